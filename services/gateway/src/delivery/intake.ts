import type { Frame } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { Stream } from './stream.ts';

/**
 * The frames of this gateway's channel, in the order they arrive. The router
 * numbers each gateway's frames densely (`g`), so a jump shows frames that
 * were lost; the stream then reads the message log instead.
 */
export interface Intake {
  /** One frame from the channel. */
  take(frame: Frame): void;
  /** The last frame number taken in. */
  readonly lastG: number;
  /** Whether frames are being held back (a recovery is deciding where the stream starts). */
  readonly holding: boolean;
  /** Holds back the frames that arrive from now on, until `release`. */
  hold(): void;
  /**
   * Takes the held frames in order, but only those numbered above
   * `coveredG`: the ones up to it were routed before a registration whose log
   * read covered them.
   */
  release(coveredG: number): void;
  /**
   * Resolves true once every frame numbered up to `g` has arrived. If they
   * have not within the gap wait, they count as lost and it resolves false:
   * the caller reads the log for them.
   */
  reach(g: number): Promise<boolean>;
  /** Lets everyone waiting in `reach` go. */
  stop(): void;
}

interface Waiter {
  g: number;
  resolve: () => void;
}

export function createIntake(deps: {
  stream: Pick<Stream, 'catchUp'>;
  /** Where a frame goes once it has passed the loss check, in channel order. */
  dispatch: (frame: Frame) => void;
  /** How long a frame the router numbered for this gateway may take to arrive before it counts as lost. */
  gapWaitMs: number;
  logger: Logger;
  metrics: Metrics;
}): Intake {
  const { stream, logger, metrics } = deps;
  let lastG = 0;
  let held: Frame[] | undefined;
  let waiters: Waiter[] = [];

  function settleWaiters() {
    if (waiters.length === 0) return;
    const reached = waiters.filter((w) => w.g <= lastG);
    waiters = waiters.filter((w) => w.g > lastG);
    for (const w of reached) w.resolve();
  }

  function admit(frame: Frame) {
    if (frame.g <= lastG) {
      // The count went back: a replica promoted before it had the master's last
      // increments. Frames numbered in between may never come; read the log.
      logger.warn({ last: lastG, got: frame.g }, "the router's frame count went back (a Redis failover); reading the message log");
      void stream.catchUp('lost');
    } else if (frame.g > lastG + 1) {
      metrics.lostFrames.inc(frame.g - lastG - 1);
      logger.warn({ expected: lastG + 1, got: frame.g }, 'routed frames were lost; reading the message log');
      void stream.catchUp('lost');
    }
    lastG = frame.g;
    settleWaiters();
    metrics.clusterEventsReceived.inc({ event: frame.event });
    deps.dispatch(frame);
  }

  return {
    take(frame) {
      if (held) held.push(frame);
      else admit(frame);
    },

    get lastG() {
      return lastG;
    },

    get holding() {
      return held !== undefined;
    },

    hold() {
      held ??= [];
    },

    release(coveredG) {
      const waiting = held ?? [];
      held = undefined;
      lastG = coveredG;
      settleWaiters();
      for (const frame of waiting) if (frame.g > coveredG) admit(frame);
    },

    async reach(g) {
      if (g <= lastG) return true;
      let timeout: NodeJS.Timeout | undefined;
      const arrived = await new Promise<boolean>((resolve) => {
        waiters.push({ g, resolve: () => resolve(true) });
        timeout = setTimeout(() => resolve(false), deps.gapWaitMs);
      });
      clearTimeout(timeout);
      if (arrived || g <= lastG) return true;
      metrics.lostFrames.inc(g - lastG);
      logger.warn({ expected: g, got: lastG }, 'routed frames did not arrive; reading the message log');
      lastG = g;
      settleWaiters();
      return false;
    },

    stop() {
      for (const w of waiters.splice(0)) w.resolve();
    },
  };
}
