import type { Logger } from '../logger.ts';
import type { RedisClient } from '../redis.ts';

export interface Throttle {
  /** Whether an event for `key` may go now: the first one per interval does, cluster-wide; the rest do not. */
  pass(key: string): Promise<boolean>;
}

/**
 * One event per key per interval across every replica: a Redis key set only
 * if absent, expiring after the interval (`<REDIS_PREFIX>th:<name>:<key>`).
 * For signals that are worth nothing twice (typing): what does not pass is
 * dropped quietly, and with Redis away nothing passes, as nothing could be
 * delivered either.
 */
export function createThrottle(redis: RedisClient, opts: { prefix: string; name: string; intervalMs: number; logger: Logger }): Throttle {
  return {
    async pass(key) {
      try {
        return (await redis.set(`${opts.prefix}th:${opts.name}:${key}`, '1', 'PX', opts.intervalMs, 'NX')) === 'OK';
      } catch (error) {
        opts.logger.warn({ err: error, throttle: opts.name }, 'throttle not checked: Redis unavailable; dropped');
        return false;
      }
    },
  };
}
