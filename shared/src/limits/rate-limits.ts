import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError, rateLimited } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RedisClient } from '../redis.ts';

/** One limit as configured: `points` per `windowMs`; 0 points switches it off. */
export interface RateLimit {
  points: number;
  windowMs: number;
  /** Once exceeded, refuse for this long (a temporary lock) instead of until the window ends. */
  blockMs?: number;
}

/** What a limit does when Redis cannot answer: refuse with `unavailable` (503), or let the request through. */
export type WhenRedisFails = 'refuse' | 'allow';

export interface Limiter {
  /** Counts one attempt for `key`: throws `rate_limited` with a retry-after beyond the limit. */
  consume(key: string): Promise<void>;
  /** Forgets `key`'s attempts (a successful login clears its account's failures). */
  reset(key: string): Promise<void>;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * A cluster-wide counter in Redis (rate-limiter-flexible's atomic Lua on the
 * shared connection), so every replica and every transport draws on the same
 * allowance. Keys live under `<REDIS_PREFIX>rl:<name>:`.
 */
export function createLimiter(
  redis: RedisClient,
  opts: { prefix: string; name: string; limit: RateLimit; whenRedisFails: WhenRedisFails; message: string; logger: Logger },
): Limiter {
  const { limit, logger } = opts;
  if (limit.points <= 0) return { consume: async () => {}, reset: async () => {} };
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${opts.prefix}rl:${opts.name}`,
    points: limit.points,
    duration: seconds(limit.windowMs),
    blockDuration: limit.blockMs ? seconds(limit.blockMs) : 0,
    // No rejectIfRedisNotReady: like every other Redis command here, a check waits
    // for a connection still being made and fails after the client's retries
    // (maxRetriesPerRequest) or REDIS_COMMAND_TIMEOUT, not at once.
  });

  const redisFailed = (error: unknown) => {
    if (opts.whenRedisFails === 'allow') {
      logger.warn({ err: error, limit: opts.name }, 'rate limit not checked: Redis unavailable; allowed');
      return;
    }
    throw new DomainError('unavailable', 'service temporarily unavailable', undefined, error);
  };

  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (error) {
        if (error instanceof RateLimiterRes) throw rateLimited(opts.message, error.msBeforeNext / 1000);
        redisFailed(error);
      }
    },
    async reset(key) {
      try {
        await limiter.delete(key);
      } catch (error) {
        // Best effort: the count runs out with its window anyway.
        logger.warn({ err: error, limit: opts.name }, 'resetting a rate limit failed');
      }
    },
  };
}
