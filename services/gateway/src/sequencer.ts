import type { Feed } from '@chat/shared/chat';
import type { Delivery } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';

export interface Sequencer {
  /** The highest seq applied; everything at or below it has been applied once, in order. */
  readonly watermark: number;
  /** Sets what applying a delivery means (the local fan-out); call once, before start(). */
  onDelivery(apply: (delivery: Delivery) => void): void;
  /** Reads the log head, then applies whatever arrives above it. */
  start(): Promise<void>;
  /** Resolves once the watermark is at least `seq`, reading the log at once if it is behind. */
  reach(seq: number): Promise<void>;
  /** A delivery from Redis, in whatever order Redis brought it. */
  receive(delivery: Delivery): void;
  stop(): void;
}

const CATCH_UP_PAGE = 500;
/** A message stored this long ago without a log number lost its sender before numbering: number it here. */
const ORPHAN_AGE_MS = 1_000;

/**
 * Turns deliveries that arrive out of order, twice or not at all into one
 * gap-free, in-order stream per gateway. Seqs are dense and commit-ordered,
 * so a gap means a lower message is still in flight on Redis or its publish
 * was lost: after a short wait the gap is filled from the log, and a poll
 * reads the log's tail for a lost publish that no later message reveals.
 * Every connection of this gateway is fed from this one stream, which is what
 * lets a cursor stand for "everything up to here".
 */
export function createSequencer(deps: {
  feed: Feed;
  gapWaitMs: number;
  pollIntervalMs: number;
  logger: Logger;
}): Sequencer {
  const { feed, logger } = deps;
  let watermark: number | undefined;
  const pending = new Map<number, Delivery>();
  let gapTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let catchingUp: Promise<void> | undefined;
  let again = false;
  let waiters: Array<{ seq: number; resolve: () => void }> = [];
  let applyDelivery: (delivery: Delivery) => void = () => {};

  function apply(delivery: Delivery) {
    watermark = delivery.seq;
    try {
      applyDelivery(delivery);
    } catch (error) {
      logger.error({ err: error, seq: delivery.seq }, 'applying a delivery failed');
    }
    if (waiters.length > 0) settleWaiters();
  }

  function settleWaiters() {
    const reached = waiters.filter((w) => watermark !== undefined && w.seq <= watermark);
    if (reached.length === 0) return;
    waiters = waiters.filter((w) => !reached.includes(w));
    for (const w of reached) w.resolve();
  }

  function drain() {
    if (watermark === undefined) return;
    for (let next = pending.get(watermark + 1); next; next = pending.get(watermark + 1)) {
      pending.delete(next.seq);
      apply(next);
    }
    if (pending.size === 0) {
      clearTimeout(gapTimer);
      gapTimer = undefined;
    } else {
      gapTimer ??= setTimeout(() => {
        gapTimer = undefined;
        void catchUp('gap');
      }, deps.gapWaitMs);
    }
  }

  /** Applies everything the log holds above the watermark; one run at a time, re-run if asked meanwhile. */
  function catchUp(reason: 'gap' | 'poll' | 'resume'): Promise<void> {
    // Before start() has read the head there is no position to catch up from.
    if (watermark === undefined) return Promise.resolve();
    if (catchingUp) {
      again = true;
      return catchingUp;
    }
    catchingUp = (async () => {
      try {
        do {
          again = false;
          let page: Delivery[];
          do {
            page = await feed.after(watermark, CATCH_UP_PAGE);
            for (const delivery of page) {
              if (watermark !== undefined && delivery.seq <= watermark) continue;
              pending.delete(delivery.seq);
              apply(delivery);
            }
            if (page.length > 0) logger.info({ reason, count: page.length, watermark }, 'delivered messages read from the log');
          } while (page.length === CATCH_UP_PAGE);
          for (const seq of pending.keys()) if (watermark !== undefined && seq <= watermark) pending.delete(seq);
          drain();
        } while (again);
      } catch (error) {
        logger.warn({ err: error, reason }, 'reading the message log failed; retrying on the next poll');
      } finally {
        catchingUp = undefined;
      }
    })();
    return catchingUp;
  }

  return {
    get watermark() {
      return watermark ?? 0;
    },

    onDelivery(apply) {
      applyDelivery = apply;
    },

    async start() {
      const head = await feed.head();
      // Whatever Redis brought meanwhile is either at or below the head (old) or above it (applied in order).
      watermark ??= head;
      for (const seq of pending.keys()) if (seq <= watermark) pending.delete(seq);
      drain();
      settleWaiters();
      pollTimer = setInterval(() => {
        feed.numberStale(ORPHAN_AGE_MS).then(
          () => catchUp('poll'),
          (error: unknown) => logger.warn({ err: error }, 'numbering orphaned messages failed; retrying on the next poll'),
        );
      }, deps.pollIntervalMs);
      pollTimer.unref();
    },

    reach(seq) {
      if (watermark !== undefined && seq <= watermark) return Promise.resolve();
      const reached = new Promise<void>((resolve) => waiters.push({ seq, resolve }));
      void catchUp('resume');
      return reached;
    },

    receive(delivery) {
      if (watermark !== undefined && delivery.seq <= watermark) return;
      pending.set(delivery.seq, delivery);
      drain();
    },

    stop() {
      clearInterval(pollTimer);
      clearTimeout(gapTimer);
      // Nobody waits on a stopped stream: the connections are closing.
      for (const w of waiters.splice(0)) w.resolve();
    },
  };
}
