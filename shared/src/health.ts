import { sql, type Kysely } from 'kysely';
import type { DB } from './db/schema.ts';
import { redisServes, type RedisClient } from './redis.ts';

export interface HealthReport {
  healthy: boolean;
  database: 'connected' | 'disconnected';
  redis: 'connected' | 'disconnected';
}

/** Resolves false instead of hanging when a dependency does not answer in time. */
async function answersWithin(probe: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      probe().then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `timeoutMs` is HEALTH_TIMEOUT; tests that leave it out get its default. */
export function createHealthCheck(deps: { db: Kysely<DB>; redis: RedisClient; timeoutMs?: number }) {
  const timeoutMs = deps.timeoutMs ?? 2_000;
  return async (): Promise<HealthReport> => {
    const [database, redis] = await Promise.all([
      answersWithin(() => sql`select 1`.execute(deps.db), timeoutMs),
      answersWithin(() => redisServes(deps.redis), timeoutMs),
    ]);
    return {
      healthy: database && redis,
      database: database ? 'connected' : 'disconnected',
      redis: redis ? 'connected' : 'disconnected',
    };
  };
}
