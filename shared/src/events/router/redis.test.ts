import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis, type Command } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../logger.ts';
import { createMetrics } from '../../metrics/index.ts';
import { closeRedis, createRedisClient, duplicateRedis, keySlot, type RedisClient } from '../../redis.ts';
import { metricSample } from '../../testing/metrics-text.ts';
import { deletePrefix, testRedisClient, uniquePrefix } from '../../testing/redis.ts';
import { startRedisServer, type RedisServer } from '../../testing/redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../../testing/tcp-proxy.ts';
import { rooms } from '../rooms.ts';
import type { Delivery } from '../types.ts';
import { contractMessage, routerContract } from './contract.ts';
import { createRedisRouter, routerKeys } from './redis.ts';
import { ROUTER_SCRIPTS, type RouterScript } from './scripts.ts';
import type { Frame } from './types.ts';

// The Redis router against the Router contract, on the tests' shared Redis (a
// cluster on a cluster run: `node scripts/redis-cluster.ts -- vitest run ...`),
// then what only Redis has: its keys, its scripts, its bytes on the wire.

let redis: RedisClient;
let subscriber: RedisClient;
const LEASE_MS = 60_000;

beforeAll(async () => {
  redis = testRedisClient();
  subscriber = testRedisClient();
  // Connected (and past ioredis's ready check) before it turns subscriber.
  await Promise.all([redis.ping(), subscriber.ping()]);
});
afterAll(async () => {
  await closeRedis(subscriber);
  await closeRedis(redis);
});

routerContract('the Redis router', () => {
  const prefix = uniquePrefix();
  const router = createRedisRouter(redis, prefix, { subscriber, maxHeld: 5 });
  return Promise.resolve({
    router,
    maxHeld: 5,
    sendRaw: async (gateway, raw) => {
      await redis.publish(router.channel(gateway), raw);
    },
    close: () => deletePrefix(prefix),
  });
});

/** Waits for `n` items in `list`. */
async function count<T>(list: T[], n: number): Promise<T[]> {
  await vi.waitFor(() => expect(list.length).toBeGreaterThanOrEqual(n), { timeout: 5_000, interval: 10 });
  return list;
}

describe('the Redis router, in Redis', () => {
  it('shares auto-pipelines with other commands (defineScript): on a cluster, ioredis groups a call by its first argument', async () => {
    const prefix = uniquePrefix();
    const router = createRedisRouter(redis, prefix);
    // In one tick, as the services mix them: router calls with 3 to 10 keys beside reads of keys on every master.
    const calls = Array.from({ length: 48 }, (_, i) => [
      router.register(
        `gw-${i}`,
        Array.from({ length: i % 8 }, (_, r) => rooms.room(`r${r}`)),
        LEASE_MS,
      ),
      router.sync(`gw-${i}`, LEASE_MS),
      redis.get(`${prefix}elsewhere:${i}`),
    ]).flat();
    await expect(Promise.all(calls)).resolves.toHaveLength(48 * 3);
    await deletePrefix(prefix);
  });

  it('declares in KEYS every key its caller knows, all in the slot of {fanout}', async () => {
    const prefix = uniquePrefix();
    const keys = routerKeys(prefix);
    // Its own connection, without auto-pipelining, so every command passes sendCommand as itself.
    const client = duplicateRedis(redis, { enableAutoPipelining: false });
    const scriptOf = new Map(Object.entries(ROUTER_SCRIPTS).map(([name, lua]) => [createHash('sha1').update(lua).digest('hex'), name]));
    const sent: Array<{ script: RouterScript | undefined; keys: string[] }> = [];
    // A command sent before the connection is ready passes twice (queued, then sent): recorded once.
    const seen = new WeakSet<Command>();
    const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
    Object.assign(client, {
      sendCommand: (command: Command, ...rest: unknown[]) => {
        if (command.name === 'evalsha' && !seen.has(command)) {
          seen.add(command);
          sent.push({ script: scriptOf.get(String(command.args[0])) as RouterScript, keys: command.getKeys().map(String) });
        }
        return send(command, ...rest);
      },
    });
    try {
      const router = createRedisRouter(client, prefix);
      await router.register('a', [rooms.global, rooms.user('u1')], LEASE_MS);
      await router.init(1);
      await router.route(contractMessage(1, [rooms.user('u1'), rooms.global]));
      await router.control(rooms.user('u1'), 'membership', { action: 'join', userId: 'u1', roomId: 'r1', logHead: 0 }, rooms.room('r1'));
      await router.control(rooms.user('u1'), 'token_revoked', { userId: 'u1', jti: 'j' });
      await router.ephemeral([rooms.room('r1'), rooms.presence('u2')], 'presence', { user_id: 'u2', username: 'b', status: 'online' });
      await router.unregister('a', [rooms.room('r1'), rooms.global], 99);
      await router.sync('a', LEASE_MS);
      const room = keys.room;
      expect(sent).toEqual([
        { script: 'register', keys: [keys.next, keys.held, keys.gateway('a'), room(rooms.global), room(rooms.user('u1'))] },
        { script: 'init', keys: [keys.next, keys.held] },
        { script: 'route', keys: [keys.next, keys.held, room(rooms.user('u1')), room(rooms.global)] },
        { script: 'control', keys: [keys.next, room(rooms.user('u1')), room(rooms.room('r1'))] },
        { script: 'control', keys: [keys.next, room(rooms.user('u1'))] },
        { script: 'ephemeral', keys: [room(rooms.room('r1')), room(rooms.presence('u2'))] },
        { script: 'unregister', keys: [keys.gateway('a'), room(rooms.room('r1')), room(rooms.global)] },
        { script: 'sync', keys: [keys.next, keys.held, keys.gateway('a')] },
      ]);
      // The keys the scripts build themselves (gateway hashes, channels) share the tag, so the slot.
      const all = [...sent.flatMap((s) => s.keys), keys.gateway('some-gateway:1a2b'), keys.channel('some-gateway:1a2b'), room('room:x y')];
      expect(new Set(all.map(keySlot))).toEqual(new Set([keySlot(keys.next)]));
    } finally {
      await closeRedis(client);
      await deletePrefix(prefix);
    }
  });

  it('keeps its state in the documented keys', async () => {
    const prefix = uniquePrefix();
    const keys = routerKeys(prefix);
    const router = createRedisRouter(redis, prefix);
    try {
      await router.register('gw-1', [rooms.global, rooms.user('u1')], LEASE_MS);
      await router.init(1);
      await router.route(contractMessage(1));
      await router.control(rooms.user('u1'), 'membership', { action: 'join', userId: 'u1', roomId: 'r1', logHead: 0 }, rooms.room('r1'));
      const early = contractMessage(3, [rooms.user('u1'), rooms.room('r1')]);
      expect(await router.route(early)).toBe('held');

      expect(await redis.get(keys.next)).toBe('2');
      // A held message: its room names, a newline, the frame's JSON (the format every version of ROUTE reads).
      expect(await redis.hgetall(keys.held)).toEqual({ 3: `user:u1 room:r1\n${JSON.stringify({ event: 'deliver', data: early })}` });
      expect((await redis.smembers(keys.room(rooms.global))).sort()).toEqual(['gw-1']);
      expect(await redis.smembers(keys.room(rooms.room('r1')))).toEqual(['gw-1']);
      expect(await redis.hgetall(keys.gateway('gw-1'))).toEqual({ g: '2', 'a:room:r1': '2' });
      expect(await redis.pttl(keys.gateway('gw-1'))).toBeGreaterThan(LEASE_MS - 10_000);
    } finally {
      await deletePrefix(prefix);
    }
  });

  it("has no observer room: a gateway registered for '*' gets only what is addressed to '*'", async () => {
    const prefix = uniquePrefix();
    const router = createRedisRouter(redis, prefix);
    try {
      await router.register('tap', ['*'], LEASE_MS);
      await router.init(1);
      await router.route(contractMessage(1, [rooms.user('nobody')]));
      await router.control(rooms.user('nobody'), 'token_revoked', { userId: 'nobody', jti: 'j' });
      expect(await router.sync('tap', LEASE_MS)).toEqual({ next: 2, g: 0, held: 0 });
    } finally {
      await deletePrefix(prefix);
    }
  });

  it('counts every outcome, and warns once when the held cap is reached, with the seq', async () => {
    const prefix = uniquePrefix();
    const metrics = createMetrics({ service: 'router-test', enabled: false });
    const logs: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', service: 'router-test', destination });
    const router = createRedisRouter(redis, prefix, { metrics, logger, maxHeld: 2 });
    try {
      const outcomes = [];
      for (const seq of [3, 4, 5, 6]) outcomes.push(await router.route(contractMessage(seq)));
      expect(outcomes).toEqual(['held', 'held', 'held_full', 'held_full']);
      expect(logs.filter((l) => l.level === 40)).toEqual([expect.objectContaining({ seq: 5, maxHeld: 2 })]);
      await router.init(1);
      expect(await router.route(contractMessage(1))).toBe('routed');
      expect(logs.filter((l) => l.level === 30)).toEqual([expect.objectContaining({ refused: 2 })]);
      expect(await router.route(contractMessage(1))).toBe('stale');
      const text = await metrics.registry.metrics();
      const counted = (outcome: string) => metricSample(text, 'chat_route_outcomes_total', { outcome });
      expect({ routed: counted('routed'), held: counted('held'), stale: counted('stale'), held_full: counted('held_full') }).toEqual({
        routed: 1,
        held: 2,
        stale: 1,
        held_full: 2,
      });
    } finally {
      await deletePrefix(prefix);
    }
  });

  it('listens only with a subscriber connection of its own', async () => {
    await expect(createRedisRouter(redis, uniquePrefix()).listen('a', { frame: () => {} })).rejects.toThrow(/subscriber/);
  });
});

describe('the Redis router on a Redis of its own', () => {
  let server: RedisServer;
  let proxy: TcpProxy;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: server.port });
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await proxy?.close();
    await server?.stop();
  });

  /** Calls of EVAL and EVALSHA so far (INFO commandstats). */
  async function scriptCalls() {
    const stats = await admin.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    return { eval: calls('eval'), evalsha: calls('evalsha') };
  }

  /** A router through the proxy, one gateway `a` listening on `room`, routing started at 1. */
  async function setUp(prefix: string, room: string) {
    const client = createRedisClient({ url: proxy.via(server.url), cluster: undefined, commandTimeoutMs: 5_000 });
    const listener = new Redis(server.url);
    const router = createRedisRouter(client, prefix, { subscriber: listener });
    const frames: Frame[] = [];
    const listening = await router.listen('a', { frame: (frame) => frames.push(frame) });
    await router.register('a', [room], LEASE_MS);
    await router.init(1);
    const done = async () => {
      await listening.close();
      listener.disconnect();
      await closeRedis(client);
    };
    return { router, frames, done };
  }

  it('sends each script once per connection (EVALSHA after), and routes on after SCRIPT FLUSH', async () => {
    const { router, frames, done } = await setUp('flush:', rooms.global);
    try {
      expect(await router.route(contractMessage(1))).toBe('routed');
      const warm = await scriptCalls();
      for (let seq = 2; seq <= 11; seq++) expect(await router.route(contractMessage(seq))).toBe('routed');
      expect(await scriptCalls()).toEqual({ eval: warm.eval, evalsha: warm.evalsha + 10 });

      // Redis forgets every script (as a restart or a failover to a node that never ran it would).
      expect(await admin.script('FLUSH')).toBe('OK');
      expect(await router.route(contractMessage(12))).toBe('routed');
      expect(await router.route(contractMessage(13))).toBe('routed');
      const after = await scriptCalls();
      // NOSCRIPT on the EVALSHA, then one EVAL that loads it again, then EVALSHA.
      expect(after.eval).toBe(warm.eval + 1);
      expect(after.evalsha).toBe(warm.evalsha + 10 + 2);
      expect((await count(frames, 13)).map((f) => (f.data as Delivery).seq)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
      expect(await router.sync('a', LEASE_MS)).toEqual({ next: 14, g: 13, held: 0 });
    } finally {
      await done();
    }
  });

  it('sends a routed message in about its own size, not its script text', async () => {
    const { router, done } = await setUp('bytes:', rooms.room('r1'));
    try {
      await router.route(contractMessage(1, [rooms.room('r1')]));
      const sample = contractMessage(2, [rooms.room('r1')]);
      const payload = JSON.stringify({ event: 'deliver', data: sample }).length;
      const before = proxy.bytes();
      const n = 50;
      for (let seq = 2; seq < 2 + n; seq++) await router.route(contractMessage(seq, [rooms.room('r1')]));
      const after = proxy.bytes();
      // The payload, the keys and arguments with their framing, the sha: well under the route script (about 2 kB).
      expect((after.up - before.up) / n).toBeLessThan(payload + 250);
      expect(ROUTER_SCRIPTS.route.length).toBeGreaterThan(1_000);
      // The reply: one integer.
      expect((after.down - before.down) / n).toBe(4);
    } finally {
      await done();
    }
  });
});
