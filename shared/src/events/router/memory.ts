import type { Delivery } from '../types.ts';
import { hearFrame } from './frame.ts';
import { DEFAULT_MAX_HELD, EPHEMERAL_ROOMS_PER_CALL } from './redis.ts';
import type { FrameListener, RouteHead, RouteOutcome, Router } from './types.ts';

interface Gateway {
  /** The last frame number sent to it. */
  g: number;
  /** When its lease runs out (ms since the epoch), unless it registers or syncs before. */
  expiresAt: number;
  /** Rooms a membership frame added for it, with that frame's number (see unregister). */
  added: Map<string, number>;
}

interface Held {
  rooms: readonly string[];
  payload: string;
}

/** What a test may do to an in-memory router that Redis does to the real one. */
export interface MemoryRouterControls {
  /** The next `count` frames for `gateway` (numbered or ephemeral) are sent but never arrive (a lost publish, a dropped subscription). */
  dropFrames(gateway: string, count: number): void;
  /** Forgets `gateway`, as Redis does when its lease runs out or Redis restarts empty. */
  forget(gateway: string): void;
  /** Puts `raw` on the gateway's channel as it is (a frame that does not parse). */
  sendRaw(gateway: string, raw: string): Promise<void>;
  /** While set, every call fails, as while Redis is away. */
  outage: boolean;
  /** The gateways registered for `room`. */
  gatewaysOf(room: string): string[];
}

/**
 * The router (router.ts) in one process's memory, with the Redis scripts'
 * semantics step for step: messages routed in seq order (a higher one held
 * until the lower ones are routed), a dense frame number per gateway, leases,
 * the rooms a membership frame adds, the unregister guard. Frames arrive
 * asynchronously and in order, as Redis pub/sub delivers them. For fast tests
 * of the gateway's delivery core, as socket.io tests its ClusterAdapter with
 * an in-memory fake; the same contract tests run against both.
 */
export function createMemoryRouter(opts: { maxHeld?: number } = {}): Router & MemoryRouterControls {
  const maxHeld = opts.maxHeld ?? DEFAULT_MAX_HELD;
  let next: number | undefined;
  const held = new Map<number, Held>();
  const byRoom = new Map<string, Set<string>>();
  const gateways = new Map<string, Gateway>();
  const listeners = new Map<string, Set<(raw: string) => void>>();
  const drops = new Map<string, number>();
  const controls = { outage: false };

  async function step<T>(run: () => T): Promise<T> {
    // Asynchronous like a round trip, so callers see the same interleavings as with Redis.
    await Promise.resolve();
    if (controls.outage) throw new Error('the router is away (test outage)');
    return run();
  }

  /** The gateway while its lease runs; one whose lease ran out is forgotten, as Redis expires its hash. */
  function alive(id: string): Gateway | undefined {
    const gateway = gateways.get(id);
    if (gateway && gateway.expiresAt <= Date.now()) gateways.delete(id);
    return gateways.get(id);
  }

  function publish(gateway: string, raw: string) {
    const dropped = drops.get(gateway) ?? 0;
    if (dropped > 0) return void drops.set(gateway, dropped - 1);
    const subscribers = [...(listeners.get(gateway) ?? [])];
    queueMicrotask(() => {
      for (const hear of subscribers) hear(raw);
    });
  }

  /** Sends `payload` to every live gateway of `rooms`, once each; returns the frame number each got. */
  function deliver(rooms: readonly string[], payload: string, n: number): Map<string, number> {
    const seen = new Map<string, number>();
    for (const room of rooms) {
      const members = byRoom.get(room);
      for (const id of [...(members ?? [])]) {
        if (seen.has(id)) continue;
        const gateway = alive(id);
        if (!gateway) {
          // Its lease ran out: the gateway is gone (or registers everything again when it comes back).
          members?.delete(id);
          continue;
        }
        gateway.g++;
        seen.set(id, gateway.g);
        publish(id, `${gateway.g}|${n}|${payload}`);
      }
    }
    return seen;
  }

  function drain(from: number): number {
    let at = from;
    for (let waiting = held.get(at); waiting; waiting = held.get(at)) {
      held.delete(at);
      deliver(waiting.rooms, waiting.payload, at + 1);
      at++;
    }
    next = at;
    return at;
  }

  const headOf = (gateway: Gateway): RouteHead => ({ next: next ?? 0, g: gateway.g, held: held.size });
  const payloadOf = (event: string, data: unknown) => JSON.stringify({ event, data });

  return {
    route: (delivery: Delivery) =>
      step((): RouteOutcome => {
        const { seq } = delivery;
        if (next !== undefined && seq < next) return 'stale';
        if (next === undefined || seq > next) {
          if (held.size >= maxHeld) return 'held_full';
          held.set(seq, { rooms: delivery.rooms, payload: payloadOf('deliver', delivery) });
          return 'held';
        }
        deliver(delivery.rooms, payloadOf('deliver', delivery), seq + 1);
        drain(seq + 1);
        return 'routed';
      }),

    init: (seq) =>
      step(() => {
        if (next !== undefined) return next;
        for (const waiting of held.keys()) if (waiting < seq) held.delete(waiting);
        return drain(seq);
      }),

    ephemeral: (rooms, event, data) =>
      step(() => {
        const unique = [...new Set(rooms)];
        let sent = 0;
        // In parts, as the Redis router calls its script: a gateway in rooms of several parts gets one frame per part.
        for (let at = 0; at < unique.length; at += EPHEMERAL_ROOMS_PER_CALL) {
          const roomsOf = new Map<string, string[]>();
          for (const room of unique.slice(at, at + EPHEMERAL_ROOMS_PER_CALL)) {
            const members = byRoom.get(room);
            for (const id of [...(members ?? [])]) {
              if (!alive(id)) {
                members?.delete(id);
                continue;
              }
              const list = roomsOf.get(id);
              if (list) list.push(room);
              else roomsOf.set(id, [room]);
            }
          }
          // Not numbered: no gateway's g moves.
          for (const [id, list] of roomsOf) publish(id, `e|${list.join(' ')}|${payloadOf(event, data)}`);
          sent += roomsOf.size;
        }
        return sent;
      }),

    control: (room, event, data, addRoom = '') =>
      step(() => {
        const reached = deliver([room], payloadOf(event, data), next ?? 0);
        if (addRoom === '') return;
        for (const [id, g] of reached) {
          let members = byRoom.get(addRoom);
          if (!members) byRoom.set(addRoom, (members = new Set()));
          members.add(id);
          alive(id)?.added.set(addRoom, g);
        }
      }),

    register: (id, rooms, leaseMs) =>
      step(() => {
        let gateway = alive(id);
        const fresh = !gateway;
        if (!gateway) gateways.set(id, (gateway = { g: 0, expiresAt: 0, added: new Map() }));
        gateway.expiresAt = Date.now() + leaseMs;
        for (const room of rooms) {
          let members = byRoom.get(room);
          if (!members) byRoom.set(room, (members = new Set()));
          members.add(id);
        }
        return { ...headOf(gateway), fresh };
      }),

    unregister: (id, rooms, seenG) =>
      step(() => {
        const gateway = alive(id);
        for (const room of rooms) {
          const added = gateway?.added.get(room);
          // A membership frame the gateway had not seen when it decided added the room back: it stays.
          if (added !== undefined && added > seenG) continue;
          byRoom.get(room)?.delete(id);
          gateway?.added.delete(room);
        }
      }),

    sync: (id, leaseMs) =>
      step(() => {
        const gateway = alive(id);
        if (!gateway) return undefined;
        gateway.expiresAt = Date.now() + leaseMs;
        return headOf(gateway);
      }),

    async listen(id, handlers): Promise<FrameListener> {
      const hear = (raw: string) => hearFrame(raw, handlers);
      let set = listeners.get(id);
      if (!set) listeners.set(id, (set = new Set()));
      set.add(hear);
      await Promise.resolve();
      return {
        renew: () => Promise.resolve(),
        close: () => {
          listeners.get(id)?.delete(hear);
          return Promise.resolve();
        },
      };
    },

    dropFrames(id, count) {
      drops.set(id, (drops.get(id) ?? 0) + count);
    },
    forget(id) {
      gateways.delete(id);
    },
    sendRaw: (id, raw) => step(() => void publish(id, raw)),
    get outage() {
      return controls.outage;
    },
    set outage(on: boolean) {
      controls.outage = on;
    },
    gatewaysOf: (room) => [...(byRoom.get(room) ?? [])],
  };
}
