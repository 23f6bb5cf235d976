import { randomUUID } from 'node:crypto';
import { createRouter, EVERY_ROOM, parseFrame, type InterServerEvents } from '@chat/shared/events';
import { Inbox, testRedisClient } from '@chat/shared/testing';
import type { TestApi } from './harness.ts';

type Payloads = { [E in keyof InterServerEvents]: Parameters<InterServerEvents[E]>[0] };
type EventName = keyof Payloads;

/** One event as the router sends it to a gateway (the router: shared/src/events/router/). */
export type PublishedEvent = { [E in EventName]: { name: E; payload: Payloads[E] } }[EventName];

export interface EventTap {
  /** Everything received so far, in routing order. */
  events: PublishedEvent[];
  /**
   * Resolves with the first event (already received or still to come) of that
   * name that satisfies `match`.
   */
  next<E extends EventName>(name: E, match?: (payload: Payloads[E]) => boolean, timeoutMs?: number): Promise<Payloads[E]>;
  close(): Promise<void>;
}

/** Long enough for any test file: the tap never syncs. */
const TAP_LEASE_MS = 30 * 60_000;

/**
 * Registers with the API's router as an observer of every room (`*`), the
 * way a gateway registers its rooms, and collects what is routed to it. Like
 * a starting gateway, it says where routing starts if nobody has yet: after
 * the log's head.
 */
export async function tapEvents(api: TestApi): Promise<EventTap> {
  const redis = testRedisClient();
  const subscriber = redis.duplicate();
  const router = createRouter(redis, api.config.redis.prefix);
  const id = `tap-${randomUUID()}`;
  const inbox = new Inbox<PublishedEvent>();

  subscriber.on('message', (channel: string, raw: string) => {
    if (channel !== router.channel(id)) return;
    const frame = parseFrame(raw);
    if (frame) inbox.push({ name: frame.event, payload: frame.data } as PublishedEvent);
  });
  await subscriber.subscribe(router.channel(id));
  const head = await router.register(id, [EVERY_ROOM], TAP_LEASE_MS);
  if (head.next === 0) {
    const row = await api.resources.db.selectFrom('message_log').select('head').executeTakeFirst();
    await router.init(Number(row?.head ?? 0) + 1);
  }

  return {
    events: inbox.items,
    async next<E extends EventName>(name: E, match: (payload: Payloads[E]) => boolean = () => true, timeoutMs = 5_000) {
      const event = await inbox.next((e) => e.name === name && match(e.payload as Payloads[E]), `a "${name}" event`, timeoutMs);
      return event.payload as Payloads[E];
    },
    async close() {
      await router.unregister(id, [EVERY_ROOM], Number.MAX_SAFE_INTEGER);
      await subscriber.quit();
      await redis.quit();
    },
  };
}
