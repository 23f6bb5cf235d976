import type { InterServerEvents, Router } from '@chat/shared/events';
import { Inbox } from '@chat/shared/testing';
import type { TestApi } from './harness.ts';

type Payloads = { [E in keyof InterServerEvents]: Parameters<InterServerEvents[E]>[0] };
type EventName = keyof Payloads;

/** One event as the router sends it to a gateway (shared/src/events/router): its name and its payload, as JSON carries it. */
export type PublishedEvent = { [E in EventName]: { name: E; payload: Payloads[E] } }[EventName];

export interface EventTap {
  /** Everything routed since the tap opened, in the order the replicas routed it. */
  events: PublishedEvent[];
  /**
   * Resolves with the first event (already received or still to come) of that
   * name that satisfies `match`.
   */
  next<E extends EventName>(name: E, match?: (payload: Payloads[E]) => boolean, timeoutMs?: number): Promise<Payloads[E]>;
  close(): Promise<void>;
}

/** The open taps of each deployment (Redis prefix): replicas that share a prefix are one cluster. */
const taps = new Map<string, Set<(event: PublishedEvent) => void>>();

/**
 * The harness puts this around the router of every API replica it starts
 * (startApi): each event the replica routes, a message or a control event
 * whatever its rooms, reaches the taps open on the replica's Redis prefix, as
 * a gateway would receive it (through JSON), and then goes on to Redis
 * unchanged. So a test sees everything the API announces without an observer
 * room in the production scripts.
 */
export function recordRouting(prefix: string): (router: Router) => Router {
  const emit = (name: EventName, data: unknown) => {
    const listeners = taps.get(prefix);
    if (!listeners) return;
    const event = { name, payload: JSON.parse(JSON.stringify(data)) as unknown } as PublishedEvent;
    for (const listener of listeners) listener(event);
  };
  return (router) => ({
    ...router,
    route(delivery) {
      emit('deliver', delivery);
      return router.route(delivery);
    },
    control(room, event, data, addRoom) {
      emit(event, data);
      return router.control(room, event, data, addRoom);
    },
  });
}

/**
 * Collects every event the API replicas of `api`'s deployment (its Redis
 * prefix) route from now on: this replica's and those of any other startApi
 * with the same REDIS_PREFIX.
 */
export function tapEvents(api: TestApi): Promise<EventTap> {
  const prefix = api.config.redis.prefix;
  const inbox = new Inbox<PublishedEvent>();
  const listener = (event: PublishedEvent) => inbox.push(event);
  const listeners = taps.get(prefix) ?? new Set();
  taps.set(prefix, listeners.add(listener));

  return Promise.resolve({
    events: inbox.items,
    async next<E extends EventName>(name: E, match: (payload: Payloads[E]) => boolean = () => true, timeoutMs = 5_000) {
      const event = await inbox.next((e) => e.name === name && match(e.payload as Payloads[E]), `a "${name}" event`, timeoutMs);
      return event.payload as Payloads[E];
    },
    close() {
      listeners.delete(listener);
      if (listeners.size === 0) taps.delete(prefix);
      return Promise.resolve();
    },
  });
}
