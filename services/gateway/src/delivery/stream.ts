import type { Feed } from '@chat/shared/chat';
import type { Delivery } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';

export interface Stream {
  /**
   * The log position this gateway's stream has reached: every message at or
   * below it that is addressed to a room this gateway has registered
   * (registrations.ts) has been applied, once, in order.
   */
  readonly watermark: number;
  /** Starts from the log head: nothing before it concerns connections that do not exist yet. */
  start(): Promise<void>;
  /** A routed message, in the order its gateway channel brought it (log order). */
  receive(delivery: Delivery): void;
  /** Runs `step` in stream order; the stream waits for a returned promise (a joiner's replay). */
  run(step: () => void | Promise<void>): void;
  /** Once everything queued before this call is applied, the watermark is at least `seq`. */
  advance(seq: number): Promise<void>;
  /**
   * Applies, in stream order, everything the log holds above the watermark:
   * what Redis lost. Resolves false if reading the log failed (logged; the
   * stream goes on, and the next loss, sync or resume asks again).
   */
  catchUp(reason: CatchUpReason): Promise<boolean>;
  stop(): void;
}

const CATCH_UP_PAGE = 500;

/** Why the log is read: frames lost, a recovery, a resume ahead of routing, or Redis away. */
export type CatchUpReason = 'lost' | 'recover' | 'resume' | 'outage';

type Step = { kind: 'deliver'; delivery: Delivery } | { kind: 'run'; step: () => void | Promise<void>; dropped?: () => void };

/**
 * One ordered stream per gateway. The router sends this gateway's messages in
 * log order on its channel; this queue applies them, with what must happen
 * between them (a catch-up from the log after a lost frame, a joiner's replay,
 * a watermark advance) in the same order, so every connection of the gateway
 * is fed from one stream and a cursor can stand for "everything up to here".
 */
export function createStream(deps: {
  feed: Feed;
  logger: Logger;
  /** What applying a delivery means: the local fan-out. */
  apply: (delivery: Delivery) => void;
}): Stream {
  const { feed, logger } = deps;
  let watermark = 0;
  const queue: Step[] = [];
  let busy = false;
  let stopped = false;
  let queuedCatchUp: Promise<boolean> | undefined;

  function apply(delivery: Delivery) {
    if (delivery.seq <= watermark) return;
    watermark = delivery.seq;
    try {
      deps.apply(delivery);
    } catch (error) {
      logger.error({ err: error, seq: delivery.seq }, 'applying a delivery failed');
    }
  }

  function pump() {
    while (!busy && queue.length > 0) {
      const next = queue.shift() as Step;
      if (next.kind === 'deliver') {
        apply(next.delivery);
        continue;
      }
      let result: void | Promise<void>;
      try {
        result = next.step();
      } catch (error) {
        logger.error({ err: error }, 'a delivery stream step failed');
        continue;
      }
      if (result instanceof Promise) {
        busy = true;
        result
          .catch((error: unknown) => logger.error({ err: error }, 'a delivery stream step failed'))
          .finally(() => {
            busy = false;
            pump();
          });
      }
    }
  }

  function run(step: () => void | Promise<void>, dropped?: () => void) {
    if (stopped) return dropped?.();
    queue.push({ kind: 'run', step, dropped });
    pump();
  }

  /** Runs `step` in stream order and resolves with its result when it has run (with `dropped` if the stream stopped first). */
  const inOrder = <T>(step: () => T | Promise<T>, dropped: T) =>
    new Promise<T>((resolve) => {
      run(
        async () => {
          let result = dropped;
          try {
            result = await step();
          } finally {
            resolve(result);
          }
        },
        () => resolve(dropped),
      );
    });

  async function readLog(reason: string): Promise<boolean> {
    let page: Delivery[];
    do {
      try {
        page = await feed.after(watermark, CATCH_UP_PAGE);
      } catch (error) {
        logger.warn({ err: error, reason }, 'reading the message log failed');
        return false;
      }
      for (const delivery of page) apply(delivery);
      if (page.length > 0) logger.info({ reason, count: page.length, watermark }, 'delivered messages read from the log');
    } while (page.length === CATCH_UP_PAGE && !stopped);
    return true;
  }

  function catchUp(reason: CatchUpReason): Promise<boolean> {
    // One read waiting at a time is enough: it reads up to the head as of when it runs.
    if (queuedCatchUp) return queuedCatchUp;
    let started = false;
    const done = inOrder(() => {
      started = true;
      queuedCatchUp = undefined;
      return readLog(reason);
    }, false);
    // The step may already have started (an idle stream runs it at once).
    if (!started) queuedCatchUp = done;
    return done;
  }

  return {
    get watermark() {
      return watermark;
    },

    async start() {
      watermark = Math.max(watermark, await feed.head());
    },

    receive(delivery) {
      if (stopped) return;
      queue.push({ kind: 'deliver', delivery });
      pump();
    },

    run: (step) => run(step),

    advance: (seq) =>
      inOrder(() => {
        watermark = Math.max(watermark, seq);
      }, undefined),

    catchUp,

    stop() {
      stopped = true;
      // Nobody waits on a stopped stream: the connections are closing.
      for (const step of queue.splice(0)) if (step.kind === 'run') step.dropped?.();
    },
  };
}
