import type { Kysely } from 'kysely';
import type { CommonConfig } from './config/common.ts';
import { createDatabase } from './db/database.ts';
import type { DB } from './db/schema.ts';
import type { Logger } from './logger.ts';
import { closeRedis, createRedisClient, type RedisClient } from './redis.ts';

// The Redis client factory and what goes with it (the client type, the slot of a key).
export * from './redis.ts';

export interface Connections {
  db: Kysely<DB>;
  /** A single node or a Redis Cluster, as REDIS_URL / REDIS_CLUSTER_NODES say. */
  redis: RedisClient;
}

/** `onPostgresFailure` hears about every connection-level PostgreSQL failure (metrics). */
export function openConnections(config: CommonConfig, logger: Logger, onPostgresFailure?: (error: unknown) => void): Connections {
  return {
    db: createDatabase(config.database, logger, onPostgresFailure),
    // Fails commands fast while Redis is away instead of queueing them for
    // minutes, and gives up on one that is not answered (REDIS_COMMAND_TIMEOUT):
    // health turns 503 and callers get a clean error. See createRedisClient.
    redis: createRedisClient(config.redis),
  };
}

export async function closeConnections(conn: Connections): Promise<void> {
  await conn.db.destroy();
  await closeRedis(conn.redis);
}
