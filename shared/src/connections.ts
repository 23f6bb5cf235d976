import { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { CommonConfig } from './config/common.ts';
import { createDatabase } from './db/database.ts';
import type { DB } from './db/schema.ts';
import type { Logger } from './logger.ts';

export interface Connections {
  db: Kysely<DB>;
  redis: Redis;
}

/** `onPostgresFailure` hears about every connection-level PostgreSQL failure (metrics). */
export function openConnections(config: CommonConfig, logger: Logger, onPostgresFailure?: (error: unknown) => void): Connections {
  return {
    db: createDatabase(config.database, logger, onPostgresFailure),
    // Fail commands fast while Redis is away instead of queueing them for
    // minutes, and give up on one that is not answered (REDIS_COMMAND_TIMEOUT):
    // health turns 503 and callers get a clean error.
    redis: new Redis(config.redis.url, {
      maxRetriesPerRequest: 2,
      commandTimeout: config.redis.commandTimeoutMs,
      enableAutoPipelining: true,
    }),
  };
}

export async function closeConnections(conn: Connections): Promise<void> {
  await conn.db.destroy();
  await closeRedis(conn.redis);
}

/**
 * QUIT is answered after every command sent before it, so nothing in flight is
 * cut off; a client that is not connected has nothing to wait for.
 */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
