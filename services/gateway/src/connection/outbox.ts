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
  read: (change) => change.conversation,
  read_receipt: (receipt) => `${receipt.conversation}\n${receipt.user}`,
  typing: (signal) => `${signal.conversation}\n${signal.user}`,
};

/** One ephemeral event with its payload; each is the server event of the same name (frames.ts). */
type Pending = { [E in EphemeralEventName]: { event: E; data: EphemeralPayload<E> } }[EphemeralEventName];
// Compile-time proof of that: every ephemeral event is a server event with the same payload.
const asServerEvent = (pending: Pending): ServerEvent => pending;

/** What the gateway's ephemeral dispatch hands events to. */
export interface EphemeralSink {
  add<E extends EphemeralEventName>(connections: Iterable<Connection>, event: E, data: EphemeralPayload<E>): void;
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
export class EphemeralOutbox implements EphemeralSink {
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
      changes.set(key, { event, data } as Pending);
    }
    if (replaced > 0) this.#metrics.ephemeralCoalesced.inc({ event }, replaced);
  }

  /** Sends every open connection what is pending for it, and forgets it all. */
  flush(): void {
    if (this.#pending.size === 0) return;
    // By change: each is encoded once for every connection it goes to.
    const byChange = new Map<EphemeralPayload, { pending: Pending; to: Connection[] }>();
    for (const [conn, changes] of this.#pending) {
      if (!conn.isOpen()) continue;
      for (const pending of changes.values()) {
        const group = byChange.get(pending.data);
        if (group) group.to.push(conn);
        else byChange.set(pending.data, { pending, to: [conn] });
      }
    }
    this.#pending.clear();
    for (const { pending, to } of byChange.values()) sendTo(to, pending, this.#metrics);
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

function sendTo(to: Iterable<Connection>, pending: Pending, metrics: Pick<Metrics, 'ephemeralSent'>) {
  const sent = broadcast(to, asServerEvent(pending));
  for (const [kind, n] of sent) if (n > 0) metrics.ephemeralSent.inc({ event: pending.event, kind }, n);
}

/** How each ephemeral event reaches this gateway's connections. */
const PACE: { [E in EphemeralEventName]: 'presence' | 'receipts' | 'now' } = {
  // A flapping user's changes, one per PRESENCE_FLUSH_INTERVAL: the latest.
  presence: 'presence',
  // A room's readers, one receipt per reader per second: the latest.
  read_receipt: 'receipts',
  // The user's own tabs, and someone typing now: late is useless, and each is throttled at the source.
  read: 'now',
  typing: 'now',
};

/**
 * The gateway's ephemeral events on their way out: presence and receipts
 * through their outboxes (coalesced, once per interval each), the rest sent
 * at once.
 */
export function createEphemeralSink(deps: {
  presence: EphemeralSink;
  receipts: EphemeralSink;
  metrics: Pick<Metrics, 'ephemeralSent'>;
}): EphemeralSink {
  return {
    add(connections, event, data) {
      const pace: 'presence' | 'receipts' | 'now' = PACE[event];
      if (pace === 'now') sendTo(connections, { event, data } as Pending, deps.metrics);
      else deps[pace].add(connections, event, data);
    },
  };
}
