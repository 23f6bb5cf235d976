import type { Feed } from '@chat/shared/chat';
import type { RouteHead, Router } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Intake } from './intake.ts';
import type { Recovery } from './recovery.ts';
import type { RoomSet } from './room-set.ts';
import type { Stream } from './stream.ts';

/** Messages routed from the log per watchdog page when routing is stuck. */
const FILL_PAGE = 500;
/** A message stored this long ago without a log number lost its sender before numbering: number it here. */
const ORPHAN_AGE_MS = 1_000;

export interface Upkeep {
  start(): void;
  stop(): void;
  /** One round (the timer runs one every poll interval). */
  tick(): Promise<void>;
}

/**
 * What keeps routing healthy, once per poll interval (DELIVERY_POLL_INTERVAL):
 * the lease renewed, messages whose sender died before numbering numbered,
 * messages whose publisher died before routing routed from the log (the
 * watchdog), and rooms no local connection needs unregistered. While Redis is
 * away it reads the log instead, so delivery goes on.
 */
export function createUpkeep(deps: {
  router: Router;
  gatewayId: string;
  feed: Feed;
  stream: Pick<Stream, 'catchUp'>;
  recovery: Pick<Recovery, 'sync'>;
  intake: Pick<Intake, 'lastG'>;
  rooms: RoomSet;
  /** Whether a local connection is in `room`. */
  inUse(room: string): boolean;
  pollIntervalMs: number;
  logger: Logger;
}): Upkeep {
  const { router, gatewayId: gateway, feed, stream, recovery, intake, rooms, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Routing's `next` as the last round saw it. */
  let lastNext = -1;

  /**
   * Routing waits for a seq whose publisher died between numbering and
   * routing, or a last publish was lost: route it (and what follows) from the
   * log. Only when routing did not move since the last round, so a busy
   * cluster pays nothing for it.
   */
  async function watchdog(head: RouteHead) {
    if (head.next === 0) return;
    const stuck = head.next === lastNext;
    lastNext = head.next;
    if (!stuck) return;
    if (head.held === 0 && (await feed.head()) < head.next) return;
    // Page after page until the log's end: a large backlog (messages stored by
    // something that does not publish) must not take one round per page. The
    // calls of a page go out pipelined; ROUTE puts them in order and drops
    // what another gateway's watchdog routed first.
    let from = head.next - 1;
    let routed = 0;
    for (let page = await feed.after(from, FILL_PAGE); page.length > 0 && !stopped; page = await feed.after(from, FILL_PAGE)) {
      await Promise.all(page.map((delivery) => router.route(delivery)));
      routed += page.length;
      from = page.at(-1)?.seq ?? from;
      if (page.length < FILL_PAGE) break;
    }
    if (routed > 0) logger.info({ from: head.next, count: routed }, 'routed messages from the log that their publisher did not route');
  }

  /** Rooms no local connection needs any more stop being routed here. */
  async function sweep() {
    const unused = rooms.unused((room) => deps.inUse(room));
    if (unused.length === 0) return;
    rooms.remove(unused);
    try {
      await router.unregister(gateway, unused, intake.lastG);
    } catch (error) {
      // Still routed here: the next sweep tries again.
      rooms.add(unused);
      throw error;
    }
  }

  async function tick() {
    try {
      await feed.numberStale(ORPHAN_AGE_MS);
    } catch (error) {
      logger.warn({ err: error }, 'numbering orphaned messages failed; retrying on the next poll');
    }
    let head: RouteHead | undefined;
    try {
      head = await recovery.sync();
    } catch (error) {
      // Redis is away: nothing is routed, so this gateway reads the whole log
      // instead, every round, until Redis answers again (and then knows it or not).
      logger.warn({ err: error }, 'cannot reach the router; reading the message log');
      await stream.catchUp('outage');
      return;
    }
    try {
      if (head) await watchdog(head);
      await sweep();
    } catch (error) {
      logger.warn({ err: error }, 'routing upkeep failed; retrying on the next poll');
    }
  }

  return {
    start() {
      timer = setInterval(() => void tick(), deps.pollIntervalMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    tick,
  };
}
