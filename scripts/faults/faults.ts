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

/**
 * SIGKILL to a worker with a webhook delivery in flight: the receiver takes
 * the next delivery and holds its answer, the worker that sent it (found by
 * its end of the connection) is killed, and the held attempt is answered into
 * the void. The worker never recorded it, so once the lease lapses
 * (WEBHOOK_LEASE) another worker sends it again: a duplicate the table counts
 * as unacknowledged. The runner restarts the killed one.
 */
const workerKill: Fault = {
  slug: 'worker-kill',
  name: 'kill -9 worker mid-delivery',
  async inject(ctx) {
    const held = await ctx.webhooks.holdNext(5_000);
    const pids = new Map<string, number>();
    for (const worker of ctx.workers) {
      const running = ctx.cluster.pid(worker);
      if (running !== undefined) pids.set(worker, running);
    }
    const sender = held ? await ctx.webhooks.senderOf(held.remotePort, pids) : undefined;
    const name = sender ?? ctx.workers[0] ?? 'worker-1';
    const pid = ctx.cluster.pid(name);
    const at = Date.now();
    ctx.cluster.kill(name, 'SIGKILL');
    held?.release();
    const what = held
      ? sender
        ? `with its delivery of seq ${held.seq} to webhook ${held.hook} in flight`
        : `(no worker found for the held delivery of seq ${held.seq} to ${held.hook}: it was answered)`
      : '(no delivery came within 5 s to hold)';
    const restarted = await ctx.log.waitFor(at, at + 30_000, (l) => l.name === 'cluster' && l.line.startsWith(`${name} restarted`));
    if (!restarted) return { notes: [`${name} (pid ${pid}) killed ${what}`], failures: [`${name} was not restarted within 30 s`] };
    return { notes: [`${name} (pid ${pid}) killed ${what}, restarted after ${seconds(restarted.at - at)}`], failures: [] };
  },
};

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
export const FAULTS: Fault[] = [
  killReplica('gateway-1', 'gateway-kill'),
  killReplica('api-1', 'api-kill'),
  workerKill,
  redisRestart,
  pgTerminate,
  pausedClients,
];

/** On a Redis Cluster (--redis-cluster): the failover, then a gateway crash and a worker crash on the cluster. */
export const CLUSTER_FAULTS: Fault[] = [redisMasterKill, killReplica('gateway-1', 'gateway-kill'), workerKill];
