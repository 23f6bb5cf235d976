import type { EphemeralEventName, EphemeralPayload, ServerEvent } from '@chat/shared/events';
import type { Metrics } from '@chat/shared/metrics';
import { broadcast, type Connection } from './connection.ts';

/**
 * What an ephemeral event is about, per event: a change replaces the one
 * pending for the same connection and key (presence: the user), so only the
 * latest is sent.
 */
const KEY_OF: { [E in EphemeralEventName]: (data: EphemeralPayload<E>) => string } = {
  presence: (change) => change.user_id,
};

interface Pending {
  event: EphemeralEventName;
  data: EphemeralPayload;
}

/**
 * Ephemeral events (presence) on their way to this gateway's connections,
 * coalesced per connection: each connection collects, per key, the latest
 * change it was addressed, and one gateway-wide ticker sends every connection
 * with something pending what it collected, once per interval
 * (PRESENCE_FLUSH_INTERVAL). So a user's change reaches a connection at most
 * once per interval however many rooms they share (the same change arrives
 * once per frame, and a user's several changes within one interval go out as
 * the last one: an online -> offline -> online flap is sent as `online`, the
 * final state, which also sets right a client that missed a change), and an
 * idle gateway keeps no timer per connection. A change is encoded once for
 * all the connections it goes to (connection.ts broadcast).
 */
export class EphemeralOutbox {
  readonly #pending = new Map<Connection, Map<string, Pending>>();
  readonly #metrics: Pick<Metrics, 'ephemeralSent' | 'ephemeralCoalesced'>;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: { intervalMs: number; metrics: Pick<Metrics, 'ephemeralSent' | 'ephemeralCoalesced'> }) {
    this.#intervalMs = opts.intervalMs;
    this.#metrics = opts.metrics;
  }

  /** Connections with something to send at the next flush. */
  get waiting(): number {
    return this.#pending.size;
  }

  /** Queues `data` for each of `connections`, in place of what was pending for them under the same key. */
  add<E extends EphemeralEventName>(connections: Iterable<Connection>, event: E, data: EphemeralPayload<E>): void {
    const key = `${event}\n${KEY_OF[event](data)}`;
    let replaced = 0;
    for (const conn of connections) {
      let changes = this.#pending.get(conn);
      if (!changes) this.#pending.set(conn, (changes = new Map<string, Pending>()));
      if (changes.has(key)) replaced++;
      changes.set(key, { event, data });
    }
    if (replaced > 0) this.#metrics.ephemeralCoalesced.inc({ event }, replaced);
  }

  /** Sends every open connection what is pending for it, and forgets it all. */
  flush(): void {
    if (this.#pending.size === 0) return;
    // By change: each is encoded once for every connection it goes to.
    const byChange = new Map<EphemeralPayload, { event: EphemeralEventName; to: Connection[] }>();
    for (const [conn, changes] of this.#pending) {
      if (!conn.isOpen()) continue;
      for (const { event, data } of changes.values()) {
        const group = byChange.get(data);
        if (group) group.to.push(conn);
        else byChange.set(data, { event, to: [conn] });
      }
    }
    this.#pending.clear();
    for (const [data, { event, to }] of byChange) {
      // Each ephemeral event is the server event of the same name, with the same payload (frames.ts).
      const sent = broadcast(to, { event, data } satisfies ServerEvent);
      for (const [kind, n] of sent) if (n > 0) this.#metrics.ephemeralSent.inc({ event, kind }, n);
    }
  }

  start(): void {
    this.#timer ??= setInterval(() => this.flush(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the ticker; what is pending is dropped (ephemeral). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }
}
