import { adapterKey, type InterServerEvents } from '@chat/shared/events';
import { Inbox, testRedisClient } from '@chat/shared/testing';

type Payloads = { [E in keyof InterServerEvents]: Parameters<InterServerEvents[E]>[0] };
type EventName = keyof Payloads;

/** One `serverSideEmit` request as a gateway's Redis adapter receives it. */
export type PublishedEvent = { [E in EventName]: { name: E; payload: Payloads[E] } }[EventName];

export interface EventTap {
  /** Everything received so far, in publish order. */
  events: PublishedEvent[];
  /**
   * Resolves with the first event (already received or still to come) of that
   * name that satisfies `match`.
   */
  next<E extends EventName>(name: E, match?: (payload: Payloads[E]) => boolean, timeoutMs?: number): Promise<Payloads[E]>;
  close(): Promise<void>;
}

/**
 * Subscribes, with its own connection, to the channel the API publishes on
 * for a Redis prefix, the way a gateway's Socket.IO Redis adapter does.
 */
export async function tapEvents(prefix: string): Promise<EventTap> {
  // On a cluster run a cluster client: it subscribes on one node, which hears every node's PUBLISH.
  const redis = testRedisClient();
  const channel = `${adapterKey(prefix)}-request#/#`;
  const inbox = new Inbox<PublishedEvent>();

  redis.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    const request = JSON.parse(raw) as { type: number; data: [EventName, unknown] };
    const [name, payload] = request.data;
    inbox.push({ name, payload } as PublishedEvent);
  });
  await redis.subscribe(channel);

  return {
    events: inbox.items,
    async next<E extends EventName>(name: E, match: (payload: Payloads[E]) => boolean = () => true, timeoutMs = 5_000) {
      const event = await inbox.next((e) => e.name === name && match(e.payload as Payloads[E]), `a "${name}" event`, timeoutMs);
      return event.payload as Payloads[E];
    },
    async close() {
      await redis.quit();
    },
  };
}
