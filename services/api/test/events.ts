import { Redis } from 'ioredis';
import { adapterKey } from '@chat/shared/events/publisher';
import type { InterServerEvents } from '@chat/shared/events/types';
import { TEST_REDIS_URL } from '@chat/shared/testing/redis';

type Payloads = { [E in keyof InterServerEvents]: Parameters<InterServerEvents[E]>[0] };
type EventName = keyof Payloads;

/** One `serverSideEmit` request as a gateway's Redis adapter receives it. */
export type PublishedEvent = { [E in EventName]: { name: E; payload: Payloads[E] } }[EventName];

export interface EventTap {
  /** Everything received so far, in publish order. */
  events: PublishedEvent[];
  /**
   * Resolves with the first event (already received or still to come) of that
   * name that satisfies `match`. The timeout only turns a missing event into a
   * readable failure; nothing waits on it when the event arrives.
   */
  next<E extends EventName>(name: E, match?: (payload: Payloads[E]) => boolean, timeoutMs?: number): Promise<Payloads[E]>;
  close(): Promise<void>;
}

/**
 * Subscribes, with its own connection, to the channel the API publishes on
 * for a Redis prefix, the way a gateway's Socket.IO Redis adapter does.
 */
export async function tapEvents(prefix: string): Promise<EventTap> {
  const redis = new Redis(TEST_REDIS_URL);
  const channel = `${adapterKey(prefix)}-request#/#`;
  const events: PublishedEvent[] = [];
  const waiters = new Set<(event: PublishedEvent) => boolean>();

  redis.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    const request = JSON.parse(raw) as { type: number; data: [EventName, unknown] };
    const [name, payload] = request.data;
    const event = { name, payload } as PublishedEvent;
    events.push(event);
    for (const waiter of waiters) if (waiter(event)) waiters.delete(waiter);
  });
  await redis.subscribe(channel);

  return {
    events,
    next<E extends EventName>(name: E, match: (payload: Payloads[E]) => boolean = () => true, timeoutMs = 5_000) {
      const accepts = (event: PublishedEvent) => event.name === name && match(event.payload as Payloads[E]);
      const seen = events.find(accepts);
      if (seen) return Promise.resolve(seen.payload as Payloads[E]);
      return new Promise<Payloads[E]>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no "${name}" event matched within ${timeoutMs} ms; saw ${JSON.stringify(events)}`));
        }, timeoutMs);
        const waiter = (event: PublishedEvent) => {
          if (!accepts(event)) return false;
          clearTimeout(timer);
          resolve(event.payload as Payloads[E]);
          return true;
        };
        waiters.add(waiter);
      });
    },
    async close() {
      await redis.quit();
    },
  };
}
