import type { TestProject } from 'vitest/node';
import { createTestDatabase } from './database.ts';
import { startRedisCluster } from './redis-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
  }
}

/** The server the tests run against; the suite creates its own database there. */
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export default async function setup(project: TestProject) {
  const database = await createTestDatabase({ adminUrl: ADMIN_URL, prefix: `chat_test_${process.pid}`, migrate: true });
  project.provide('databaseUrl', database.url);
  project.provide('adminDatabaseUrl', ADMIN_URL);
  // TEST_REDIS_CLUSTER=1: the shared test Redis is a Redis Cluster of this run's own
  // (TEST_REDIS_CLUSTER_REPLICAS replicas per master, default 0), unless one was
  // given in TEST_REDIS_CLUSTER_NODES. The workers start after this and inherit the
  // variable, which the helpers of shared/src/testing/redis.ts read.
  let cluster: Awaited<ReturnType<typeof startRedisCluster>> | undefined;
  if (process.env.TEST_REDIS_CLUSTER === '1' && !process.env.TEST_REDIS_CLUSTER_NODES) {
    try {
      cluster = await startRedisCluster({ replicas: Number(process.env.TEST_REDIS_CLUSTER_REPLICAS ?? 0) });
    } catch (error) {
      await database.drop();
      throw error;
    }
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodeList;
  }
  return async () => {
    await cluster?.stop();
    await database.drop();
  };
}
