import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisClient, isCluster, type RedisClient } from '../redis.ts';

/** The tests' shared single Redis (never stopped by a test). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * When set (`host:port,...`), the tests' shared Redis is this Redis Cluster
 * instead of TEST_REDIS_URL: the vitest global setup starts one for
 * TEST_REDIS_CLUSTER=1 and exports it here (workers inherit its environment),
 * and `node scripts/redis-cluster.ts -- <command>` sets it for its command.
 * Tests that run a Redis of their own (outages, ACL) keep their single node.
 */
export const TEST_REDIS_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES || undefined;

/**
 * The variables that point a service at the shared test Redis. Both are always
 * present, one of them empty (unset, to the configuration), so that neither
 * can slip in from the parent's environment: the e2e cluster passes the test
 * process's environment on to its children, and the services refuse the two together.
 */
export function testRedisEnv(): { REDIS_URL: string; REDIS_CLUSTER_NODES: string } {
  return TEST_REDIS_CLUSTER_NODES
    ? { REDIS_URL: '', REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES }
    : { REDIS_URL: TEST_REDIS_URL, REDIS_CLUSTER_NODES: '' };
}

/** `env` with the shared test Redis added, unless `env` names a Redis of its own (a test's private server). */
export function withTestRedis<E extends Record<string, string>>(env: E): E & Partial<ReturnType<typeof testRedisEnv>> {
  return env.REDIS_URL !== undefined || env.REDIS_CLUSTER_NODES !== undefined ? env : { ...testRedisEnv(), ...env };
}

/** A client of the shared test Redis, a cluster client on a cluster run; the caller closes it. */
export function testRedisClient(): RedisClient {
  const nodes = TEST_REDIS_CLUSTER_NODES?.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
  });
  return createRedisClient({
    url: TEST_REDIS_URL,
    cluster: nodes && { nodes, username: undefined, password: undefined },
    // Generous: test helpers wait out a busy machine rather than fail a clean-up.
    commandTimeoutMs: 10_000,
  });
}

/** A key prefix no other test run shares, so runs never see each other's keys or channels. */
export const uniquePrefix = () => `test:${randomBytes(6).toString('hex')}:`;

/**
 * Deletes every key under `prefix`; call it when a test file is done. Without
 * `url`, on the shared test Redis, every master of it on a cluster run: SCAN
 * only walks the node it is sent to.
 */
export async function deletePrefix(prefix: string, url?: string): Promise<void> {
  const redis = url === undefined ? testRedisClient() : new Redis(url);
  try {
    // A cluster client knows its masters once it is connected.
    await redis.ping();
    for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length > 0) {
          // One DEL per key: on a cluster node a DEL of several keys must stay in one slot.
          const pipeline = node.pipeline();
          for (const key of keys) pipeline.del(key);
          await pipeline.exec();
        }
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}
