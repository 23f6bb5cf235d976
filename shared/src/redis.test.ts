import { randomBytes, randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createRevocationList, revocationKeys } from './auth/revocation.ts';
import { createDatabase } from './db/database.ts';
import type { DB } from './db/schema.ts';
import { createEventPublisher } from './events/publisher.ts';
import { rooms } from './events/rooms.ts';
import { createRedisRouter, parseEphemeralFrame, parseFrame, routerKeys, type EphemeralFrame, type Frame } from './events/router/index.ts';
import type { Delivery } from './events/types.ts';
import { withHandledSubscriptions } from './events/safe-subscribe.ts';
import { createLimiter } from './limits/rate-limits.ts';
import { createLogger } from './logger.ts';
import { createPresenceReader, createPresenceWriter, presenceKeys } from './presence/index.ts';
import { closeRedis, createRedisClient, duplicateRedis, isCluster, keySlot, redisServes, type RedisClient } from './redis.ts';
import { startRedisCluster, type RedisCluster, type RedisClusterNode } from './testing/redis-cluster.ts';
import { TEST_REDIS_CLUSTER_NODES, uniquePrefix } from './testing/redis.ts';
import { messageFixture } from './testing/messages.ts';

// What Redis Cluster support rests on: every script, MULTI and multi-key command
// the services send names keys of one slot (hash tags), and REDIS_PREFIX stays
// in front of every key. The layout is checked by computing slots, and the code
// paths are run against a real cluster with every command recorded: a cluster
// refuses a cross-slot request (CROSSSLOT), and the recording shows which keys
// went together. Runs in every `npm test`, on a cluster of its own unless the run
// already has one (TEST_REDIS_CLUSTER=1).

const logger = createLogger({ level: 'silent', service: 'redis-test' });

describe('keySlot', () => {
  it('is CRC16/XMODEM modulo 16384, as the Redis Cluster specification defines it', () => {
    // The specification's check value: CRC16("123456789") = 0x31C3.
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot(Buffer.from('123456789'))).toBe(0x31c3);
  });

  it('hashes only a non-empty hash tag, the first {...} of the key', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('user1000'));
    // An empty first tag means no tag: the whole key counts (CLUSTER KEYSLOT confirms these below).
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });
});

describe('the key layout', () => {
  // REDIS_PREFIX allows letters, digits and : _ . - only, so no prefix can open a hash tag of its own.
  const prefixes = ['chat:', 'stage:', uniquePrefix(), 'a.b-c_d:'];

  it('puts every revocation key of a deployment in one slot, whatever the token and user', () => {
    for (const prefix of prefixes) {
      const keys = revocationKeys(prefix);
      const slots = new Set(
        [
          keys.warm,
          keys.warming,
          ...Array.from({ length: 50 }, () => keys.token(randomUUID())),
          ...Array.from({ length: 50 }, () => keys.user(randomUUID())),
        ].map(keySlot),
      );
      expect(slots.size, prefix).toBe(1);
    }
  });

  it('puts every presence key of a deployment in one slot, whatever the gateway', () => {
    for (const prefix of prefixes) {
      const keys = presenceKeys(prefix);
      const gateways = Array.from({ length: 50 }, () => `gw-${randomBytes(3).toString('hex')}:${randomBytes(4).toString('hex')}`);
      // The counting script builds gateway keys from gatewayPrefix inside Lua; they must land in the same slot too.
      const slots = new Set([keys.gateways, ...gateways.map(keys.gateway), ...gateways.map((id) => keys.gatewayPrefix + id)].map(keySlot));
      expect(slots.size, prefix).toBe(1);
    }
  });
});

/** Every command a client sent, with the keys ioredis found in it (EVAL's declared keys included). */
interface Sent {
  name: string;
  keys: string[];
}

/** Records each command on its way out; pipelines, MULTI and auto-pipelined commands pass here too, one by one. */
function recordCommands(client: Cluster): Sent[] {
  const sent: Sent[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<Cluster['sendCommand']>) => {
    const [command] = args;
    sent.push({ name: command.name, keys: command.getKeys().map(String) });
    return send(...args);
  };
  return sent;
}

/** MULTI ... EXEC groups: a transaction's commands leave together, so they sit side by side in the record. */
function transactions(sent: Sent[]): Sent[][] {
  const groups: Sent[][] = [];
  let open: Sent[] | undefined;
  for (const command of sent) {
    if (command.name === 'multi') open = [];
    else if (command.name === 'exec' && open) {
      groups.push(open);
      open = undefined;
    } else open?.push(command);
  }
  return groups;
}

describe('on a Redis Cluster', () => {
  let own: RedisCluster | undefined;
  let nodes: string;
  let client: Cluster;
  let sent: Sent[];
  let db: Kysely<DB>;
  const prefix = uniquePrefix();

  const clusterClient = (commandTimeoutMs = 5_000): RedisClient =>
    createRedisClient({
      url: 'redis://unused',
      cluster: {
        nodes: nodes.split(',').map((entry) => ({ host: entry.split(':')[0] as string, port: Number(entry.split(':')[1]) })),
        username: undefined,
        password: undefined,
      },
      commandTimeoutMs,
    });

  beforeAll(async () => {
    if (TEST_REDIS_CLUSTER_NODES) nodes = TEST_REDIS_CLUSTER_NODES;
    else {
      own = await startRedisCluster();
      nodes = own.nodeList;
    }
    const redis = clusterClient();
    if (!isCluster(redis)) throw new Error('REDIS_CLUSTER_NODES did not make a cluster client');
    client = redis;
    // The last test kills this file's own cluster under it.
    client.on('error', () => {});
    sent = recordCommands(client);
    db = createDatabase({ url: inject('databaseUrl'), poolMax: 2 });
  }, 60_000);

  afterAll(async () => {
    if (client) await closeRedis(client);
    await db?.destroy();
    await own?.stop();
  });

  it('computes the slot Redis computes (CLUSTER KEYSLOT)', async () => {
    const keys = [
      '123456789',
      'chat:{revocations}:warm',
      `${prefix}{presence}:gateways`,
      'foo{}{bar}',
      'foo{{bar}}zap',
      'ünïcödé{κλειδί}',
      ...Array.from({ length: 40 }, () => randomBytes(8).toString('base64')),
    ];
    for (const key of keys) expect(keySlot(key), key).toBe(await client.call('CLUSTER', 'KEYSLOT', key));
  });

  it('runs revocation, presence, rate limits and events without a cross-slot request, every key under REDIS_PREFIX', async () => {
    const user = await db
      .insertInto('users')
      .values({ username: `slots_${randomBytes(4).toString('hex')}`, email: `${randomUUID()}@example.com`, password_hash: 'x' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const now = Math.floor(Date.now() / 1000);
    const token = { jti: randomUUID(), id: user.id, iat: now, exp: now + 3600 };

    // Revocation: the cold path (and its rebuild: SET NX lease, pipelined SETs and RAISE scripts, the finishing script), then the warm MGET.
    const revocations = createRevocationList({ redis: client, prefix, db, maxTokenLifetimeSeconds: 3600, logger });
    expect(await revocations.revoke(token)).toBe(true);
    await revocations.revokeAllOf(user.id);
    expect(await revocations.isRevoked(token)).toBe(true);
    const keys = revocationKeys(prefix);
    await expect.poll(() => client.get(keys.warm), { message: 'the revocation cache becomes warm', timeout: 5_000, interval: 20 }).not.toBeNull();
    expect(await revocations.isRevoked({ ...token, jti: randomUUID(), iat: now + 10 })).toBe(false);
    expect(await revocations.isRevoked(token)).toBe(true);

    // Presence: MULTI heartbeats, the counting script over every live gateway's hash, the readers' pipelines, the MULTI removal.
    const writers = [1, 2].map((n) => createPresenceWriter(client, { prefix, gatewayId: `gw-${n}`, leaseMs: 30_000 }));
    for (const writer of writers) await writer.heartbeat();
    const [first, second] = writers as [ReturnType<typeof createPresenceWriter>, ReturnType<typeof createPresenceWriter>];
    expect(await first.connected('u1')).toBe(1);
    expect(await second.connected('u1')).toBe(2);
    expect(await second.connected('u2')).toBe(1);
    const reader = createPresenceReader(client, prefix);
    expect([...(await reader.onlineUserIds())].sort()).toEqual(['u1', 'u2']);
    expect([...(await reader.onlineAmong(['u1', 'u3']))]).toEqual(['u1']);
    expect(await first.disconnected('u1')).toBe(1);
    for (const writer of writers) await writer.remove();

    // Rate limits: rate-limiter-flexible's script, its block (a SET of the same key) and its delete.
    const limiter = createLimiter(client, {
      prefix,
      name: 'login:account',
      limit: { points: 2, windowMs: 60_000, blockMs: 60_000 },
      whenRedisFails: 'refuse',
      message: 'slow down',
      logger,
    });
    await limiter.consume('alice');
    await limiter.consume('alice');
    await expect(limiter.consume('alice')).rejects.toMatchObject({ code: 'rate_limited' });
    await limiter.reset('alice');
    await limiter.consume('alice');

    // Events: the router's scripts (register, init, control, ephemeral, route, sync, unregister) and the frames on a gateway's channel, in order.
    const router = createRedisRouter(client, prefix);
    const subscriber = withHandledSubscriptions(duplicateRedis(client, { enableAutoPipelining: false }), () => {});
    const received: Frame[] = [];
    const ephemeral: EphemeralFrame[] = [];
    subscriber.on('message', (from: string, raw: string) => {
      if (from !== router.channel('gw-test')) return;
      const frame = parseFrame(raw);
      if (frame) received.push(frame);
      const unnumbered = parseEphemeralFrame(raw);
      if (unnumbered) ephemeral.push(unnumbered);
    });
    await subscriber.subscribe(router.channel('gw-test'));
    const head = await router.register('gw-test', [rooms.user(user.id), rooms.global], 30_000);
    expect(head).toMatchObject({ next: 0, g: 0, fresh: true });
    expect(await router.init(41)).toBe(41);
    const events = createEventPublisher(client, prefix, logger);
    for (let i = 0; i < 20; i++) events.tokenRevoked({ userId: user.id, jti: `jti-${i}` });
    const change = { user_id: 'u9', username: 'nine', status: 'online' as const };
    expect(await router.ephemeral([rooms.user(user.id), rooms.presence('u9')], 'presence', change)).toBe(1);
    // Out of order: 42 waits in Redis for 41, then both go out in log order.
    const message = (seq: number): Delivery => ({
      rooms: [rooms.global],
      event: 'message',
      seq,
      message: messageFixture({ id: randomUUID(), content: `#${seq}` }),
    });
    await router.route(message(42));
    await router.route(message(41));
    await expect.poll(() => received.length, { message: 'frames on the channel', timeout: 5_000, interval: 20 }).toBeGreaterThanOrEqual(22);
    expect(received.map((f) => f.g)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(ephemeral).toEqual([{ rooms: [rooms.user(user.id)], event: 'presence', data: change }]);
    expect(received.slice(0, 20).map((f) => (f.data as { jti: string }).jti)).toEqual(Array.from({ length: 20 }, (_, i) => `jti-${i}`));
    expect(received.slice(20).map((f) => (f.data as Delivery).seq)).toEqual([41, 42]);
    expect(await router.sync('gw-test', 30_000)).toEqual({ next: 43, g: 22, held: 0 });
    await router.unregister('gw-test', [rooms.user(user.id), rooms.global], 22);
    await closeRedis(subscriber);

    // What went out: every key under the prefix, every command's keys in one slot, every MULTI in one slot.
    const keyed = sent.filter((s) => s.keys.length > 0);
    expect(keyed.length).toBeGreaterThan(20);
    expect(keyed.flatMap((s) => s.keys).filter((k) => !k.startsWith(prefix))).toEqual([]);
    const crossSlot = keyed.filter((s) => new Set(s.keys.map(keySlot)).size > 1);
    expect(crossSlot).toEqual([]);
    const groups = transactions(sent);
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const group of groups) expect(new Set(group.flatMap((s) => s.keys).map(keySlot)).size, JSON.stringify(group)).toBe(1);
    // The multi-key requests really were multi-key (the check above is not vacuous).
    expect(sent.some((s) => s.name === 'mget' && s.keys.length === 3)).toBe(true);
    expect(sent.some((s) => s.name === 'evalsha' || s.name === 'eval')).toBe(true);
  });

  it("routes every event on the master that holds the router's keys, so the cluster keeps one routing order", async () => {
    const counts = async () => {
      const out = new Map<string, number>();
      for (const node of client.nodes('master')) {
        const stats = await node.info('commandstats');
        // Scripts go out as EVALSHA, or EVAL the first time on a connection (and after NOSCRIPT).
        const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        out.set(`${node.options.host}:${node.options.port}`, calls('eval') + calls('evalsha'));
      }
      return out;
    };
    const before = await counts();
    const events = createEventPublisher(client, prefix, logger);
    // One event per timer tick, so each is its own auto-pipeline (the pause is what
    // is tested, not a wait for an outcome): each must still go to the one master.
    for (let i = 0; i < 30; i++) {
      events.membershipChanged({ action: 'join', userId: 'u', roomId: `r${i}`, logHead: 0 });
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Each event is one script call: once the masters have run 30 more, see which did.
    const growth = (now: Map<string, number>) => [...now].reduce((sum, [node, calls]) => sum + calls - (before.get(node) ?? 0), 0);
    const after = await vi.waitFor(
      async () => {
        const now = await counts();
        expect(growth(now), 'script calls since the events were published').toBeGreaterThanOrEqual(30);
        return now;
      },
      { timeout: 5_000, interval: 20 },
    );
    const owner = client.slots[keySlot(routerKeys(prefix).next)]?.[0];
    const grown = [...after].filter(([node, calls]) => calls > (before.get(node) ?? 0)).map(([node]) => node);
    expect(grown).toEqual([owner]);
  });

  // Last: it kills the cluster it uses (this file's own, or one started for it on a shared-cluster run).
  it('reports a cluster with a master down as not serving, and fails commands within REDIS_COMMAND_TIMEOUT once no node answers', async () => {
    const target = own ?? (await startRedisCluster());
    nodes = target.nodeList;
    const doomed = clusterClient(300);
    doomed.on('error', () => {});
    try {
      expect(await doomed.set(`${prefix}doomed`, '1')).toBe('OK'); // connected, slot map known
      await redisServes(doomed);
      // A master without a replica: the cluster stops serving its slots once the
      // others count it as failed (the node timeout), and health must say so.
      const [first] = target.masters() as [RedisClusterNode];
      await target.kill(first.port);
      const serves = () =>
        redisServes(doomed).then(
          () => 'serving',
          () => 'not serving',
        );
      await expect.poll(serves, { message: 'health with a master down', timeout: 30_000, interval: 100 }).toBe('not serving');
      for (const node of target.nodes) if (node.port !== first.port) await target.kill(node.port);
      // The first command meets the closed connections and fails at once; that is
      // how the client learns the cluster is gone and starts reconnecting.
      await doomed.get(`${prefix}doomed`).catch(() => undefined);
      await expect.poll(() => doomed.status, { timeout: 5_000, interval: 20 }).not.toBe('ready');
      const started = Date.now();
      // The cluster is reconnecting: the command waits in the cluster's own offline
      // queue, where ioredis arms no commandTimeout and a plain Cluster waits until a
      // node is back; createRedisClient's cluster arms the timeout there too.
      const outcome = await Promise.race([
        doomed.get(`${prefix}doomed`).then(
          () => 'answered',
          (error: Error) => error.message,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000)),
      ]);
      expect(outcome).toBe('Command timed out');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      doomed.disconnect();
      if (target !== own) await target.stop();
    }
  }, 60_000);
});
