import { Redis } from 'ioredis';
import { routerKeys } from '@chat/shared/events';
import { keySlot } from '@chat/shared/connections';
import type { RedisCluster } from '@chat/shared/testing';
import { terminateBackends } from './database-checks.ts';
import { pausedClients } from './fault-paused.ts';
import { seconds, type Fault, type FaultContext, type FaultOutcome } from './fault.ts';

/** SIGKILL to one replica; the runner restarts it. The note says when it was back. */
function killReplica(name: string, slug: string): Fault {
  return {
    slug,
    name: `kill -9 ${name}`,
    async inject(ctx: FaultContext): Promise<FaultOutcome> {
      const pid = ctx.cluster.pid(name);
      const at = Date.now();
      ctx.cluster.kill(name, 'SIGKILL');
      const restarted = await ctx.log.waitFor(at, at + 30_000, (l) => l.name === 'cluster' && l.line.startsWith(`${name} restarted`));
      if (!restarted) return { notes: [`${name} (pid ${pid}) killed`], failures: [`${name} was not restarted within 30 s`] };
      return { notes: [`${name} (pid ${pid}) killed, restarted after ${seconds(restarted.at - at)}`], failures: [] };
    },
  };
}

const redisRestart: Fault = {
  slug: 'redis-restart',
  name: 'Redis SIGKILL + restart',
  async inject(ctx) {
    if (ctx.redis.kind !== 'single') throw new Error('this fault needs the single redis-server');
    const at = Date.now();
    await ctx.redis.server.kill();
    await new Promise((resolve) => setTimeout(resolve, ctx.opts.redisDownMs));
    await ctx.redis.server.start();
    return { notes: [`Redis killed, started again empty on the same port after ${seconds(Date.now() - at)}`], failures: [] };
  },
};

/**
 * SIGKILL to the Redis Cluster master that holds the router's keys (the
 * worst one to lose: no event is routed until its replica takes over), under
 * load; the phase then checks that nothing acknowledged was lost. The node is
 * started again afterwards and rejoins as a replica.
 */
const redisMasterKill: Fault = {
  slug: 'redis-master-kill',
  name: 'kill -9 Redis Cluster master (router)',
  async inject(ctx) {
    if (ctx.redis.kind !== 'cluster') throw new Error('this fault needs --redis-cluster');
    const { cluster, prefix } = ctx.redis;
    const port = await masterPortOf(cluster, keySlot(routerKeys(prefix).next));
    const at = Date.now();
    await cluster.kill(port);
    const failures: string[] = [];
    let promotedAfter: number | undefined;
    try {
      await cluster.waitUntilHealthy(60_000);
      promotedAfter = Date.now() - at;
    } catch (error) {
      failures.push(`the cluster did not recover: ${String(error)}`);
    }
    const replacement = await masterPortOf(cluster, keySlot(routerKeys(prefix).next)).catch(() => undefined);
    await cluster.restart(port);
    return {
      notes: [
        `master 127.0.0.1:${port} of slot ${keySlot(routerKeys(prefix).next)} ({fanout}) killed` +
          (promotedAfter === undefined ? '' : `; replica 127.0.0.1:${replacement} promoted, cluster_state ok after ${seconds(promotedAfter)}`),
        `127.0.0.1:${port} started again, rejoined as a replica`,
      ],
      failures,
    };
  },
};

/** The port of the master serving `slot`, as the cluster says now. */
async function masterPortOf(cluster: RedisCluster, slot: number): Promise<number> {
  for (const node of cluster.nodes) {
    const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (range) return range[2][1];
    } catch {
      // A dead node: ask the next.
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no node serves slot ${slot}`);
}

const pgTerminate: Fault = {
  slug: 'pg-terminate',
  name: 'PostgreSQL backends terminated',
  async inject(ctx) {
    const n = await terminateBackends(ctx.adminUrl, ctx.databaseName);
    return { notes: [`pg_terminate_backend: ${n} backends of ${ctx.databaseName}`], failures: [] };
  },
};

/** The faults, in the order the suite injects them. */
export const FAULTS: Fault[] = [killReplica('gateway-1', 'gateway-kill'), killReplica('api-1', 'api-kill'), redisRestart, pgTerminate, pausedClients];

/** On a Redis Cluster (--redis-cluster): the failover, then a gateway crash on the cluster. */
export const CLUSTER_FAULTS: Fault[] = [redisMasterKill, killReplica('gateway-1', 'gateway-kill')];
