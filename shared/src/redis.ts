import { Cluster, Redis, type ClusterNode, type ClusterOptions } from 'ioredis';

/**
 * Every Redis client of the services is one of these: a single node
 * (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES). Code that talks to
 * Redis takes this type, so both modes go through the same commands; what a
 * cluster needs beyond that (keys of one script or MULTI in one slot, see
 * docs/architecture.md#redis-cluster) holds in both modes.
 */
export type RedisClient = Redis | Cluster;

/** REDIS_CLUSTER_NODES and the credentials for it: the nodes to discover the cluster from. */
export interface RedisClusterTarget {
  nodes: Array<{ host: string; port: number }>;
  username: string | undefined;
  password: string | undefined;
}

/** The Redis part of the services' configuration (shared/src/config/common.ts). */
export interface RedisConfig {
  /** REDIS_URL: the single node, unless `cluster` is set. */
  url: string;
  /** Set by REDIS_CLUSTER_NODES: connect to this cluster; `url` is then unused. */
  cluster: RedisClusterTarget | undefined;
  prefix: string;
  commandTimeoutMs: number;
}

export const isCluster = (redis: RedisClient): redis is Cluster => redis.isCluster;

/** Commands that only change what a subscriber connection listens to. */
const SUBSCRIPTIONS = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);

/**
 * A Cluster whose commands fail after REDIS_COMMAND_TIMEOUT wherever they
 * wait. ioredis arms `commandTimeout` only when a node's connection takes a
 * command, but while the cluster as a whole is down (every node unreachable,
 * or reconnecting) commands wait in the cluster's own offline queue, for ever
 * with the default retry strategy. That would turn a Redis outage into hung
 * requests instead of the 503 a single node gives. Subscriptions are exempt:
 * a gateway's subscribers (its router channel's and the Socket.IO adapter's)
 * subscribe once at start and must wait for the cluster however long it takes,
 * as a single node's subscriber does.
 */
class TimedCluster extends Cluster {
  readonly #commandTimeoutMs: number;

  constructor(nodes: ClusterNode[], options: ClusterOptions, commandTimeoutMs: number) {
    super(nodes, options);
    this.#commandTimeoutMs = commandTimeoutMs;
  }

  override sendCommand(...args: Parameters<Cluster['sendCommand']>): unknown {
    const [command] = args;
    // Command.setTimeout is armed once: the node connection's own commandTimeout later keeps this one.
    if (!SUBSCRIPTIONS.has(command.name)) command.setTimeout(this.#commandTimeoutMs);
    return super.sendCommand(...args);
  }

  /** Cluster#duplicate builds a plain Cluster; the copy must time out commands too. */
  override duplicate(overrideStartupNodes: ClusterNode[] = [], overrideOptions: Partial<ClusterOptions> = {}): Cluster {
    // `startupNodes` is private in the typings; Cluster#duplicate reads it the same way.
    const nodes = overrideStartupNodes.length > 0 ? overrideStartupNodes : [...(Reflect.get(this, 'startupNodes') as ClusterNode[])];
    return new TimedCluster(nodes, { ...this.options, ...overrideOptions }, this.#commandTimeoutMs);
  }
}

/**
 * The commands a message or a request waits on, one after another: the
 * revocation read (MGET), the rate limit (rate-limiter-flexible's script) and
 * ROUTE (the router's `route` script). Auto-pipelining holds every command
 * until `setImmediate`, behind the rest of the event loop's turn, and these sit
 * in a line on the send path, so they go out the moment they are issued.
 * Measured on the reference machine (loadtest/reports/latency-2026-12-07.md):
 * a REST send reached its receiver 2.91 -> 2.23 ms at p50 and 9.6 -> 3.4 ms at
 * 500 msg/s. Everything else keeps sharing round trips, which is what carries
 * flat-out sends and connect storms: with auto-pipelining off altogether,
 * REST at 1000 msg/s queued about five times longer.
 */
export const IMMEDIATE_COMMANDS = ['mget', 'rlflxIncr', 'chatRouter_route'] as const;

/**
 * The one place the services' Redis clients are made (connections.ts and the
 * gateway's subscriber go through here), with the same failure behaviour in
 * both modes:
 * - `maxRetriesPerRequest: 2`: commands queued while a node is away fail after
 *   two reconnect attempts instead of queueing for minutes;
 * - `commandTimeout` (REDIS_COMMAND_TIMEOUT): a node that accepts connections but
 *   does not answer fails the command; for a cluster also while it is
 *   entirely unreachable (TimedCluster);
 * - auto-pipelining: concurrent commands share a round trip (per node on a cluster),
 *   except IMMEDIATE_COMMANDS.
 *
 * Cluster reads stay on the masters (`scaleReads: 'master'`, ioredis's default,
 * spelled out): a replica lags its master, and a revocation or a presence count
 * read from one could be stale, i.e. accept a token just revoked.
 */
export function createRedisClient(config: Pick<RedisConfig, 'url' | 'cluster' | 'commandTimeoutMs'>): RedisClient {
  const common = { maxRetriesPerRequest: 2, commandTimeout: config.commandTimeoutMs };
  const pipelining = { enableAutoPipelining: true, autoPipeliningIgnoredCommands: [...IMMEDIATE_COMMANDS] };
  if (!config.cluster) return new Redis(config.url, { ...common, ...pipelining });
  const { nodes, username, password } = config.cluster;
  return new TimedCluster(
    nodes,
    {
      redisOptions: { ...common, username, password },
      ...pipelining,
      scaleReads: 'master',
    },
    config.commandTimeoutMs,
  );
}

/** A Lua script as a command of one client: call it with its keys and its arguments. */
export type RedisScript = (keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>;

/**
 * Defines `lua` as the command `name` of `redis` (once per client; ioredis
 * sends EVALSHA, and EVAL the first time on a connection or when Redis answers
 * NOSCRIPT). On a Redis Cluster each call goes out as a pipeline of its own,
 * which ioredis sends to the master of its keys: auto-pipelining groups a
 * script call by its first argument (the number of keys, or the script's
 * text, never a key), and a batch that mixed it with commands for another
 * master would fail as a whole ("All keys in the pipeline should belong to the
 * same slots allocation group", ioredis#2109).
 */
export function defineScript(redis: RedisClient, name: string, lua: string): RedisScript {
  const commands = redis as unknown as Record<string, ((...args: Array<string | number>) => Promise<unknown>) | undefined>;
  // No fixed number of keys: every call says how many of its arguments are keys.
  if (typeof commands[name] !== 'function') redis.defineCommand(name, { lua });
  if (!isCluster(redis)) {
    return (keys, args) => commands[name]?.(keys.length, ...keys, ...args) ?? Promise.reject(new Error(`${name} is not defined`));
  }
  return async (keys, args) => {
    const pipeline = redis.pipeline() as unknown as Record<string, ((...args: Array<string | number>) => unknown) | undefined> & {
      exec(): Promise<Array<[Error | null, unknown]> | null>;
    };
    pipeline[name]?.(keys.length, ...keys, ...args);
    const [[error, result] = [new Error(`${name} was not sent`), undefined]] = (await pipeline.exec()) ?? [];
    if (error) throw error;
    return result;
  };
}

/** Another connection with the same target and options (a subscriber needs one of its own). */
export function duplicateRedis(redis: RedisClient, overrides: { enableAutoPipelining?: boolean } = {}): RedisClient {
  return isCluster(redis) ? redis.duplicate([], overrides) : redis.duplicate(overrides);
}

/**
 * QUIT is answered after every command sent before it, so nothing in flight is
 * cut off; a client that is not connected has nothing to wait for.
 */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}

/**
 * The health probe: a single node answers PING; a cluster must also serve every
 * slot (`cluster_state:ok`), since with a master down and no replica to take
 * over, every request that needs one of its keys fails while the others answer.
 */
export async function redisServes(redis: RedisClient): Promise<void> {
  if (!isCluster(redis)) {
    await redis.ping();
    return;
  }
  const info = String(await redis.call('CLUSTER', 'INFO'));
  if (!/^cluster_state:ok\s*$/m.test(info)) throw new Error('the Redis Cluster does not serve every slot (cluster_state is not ok)');
}

/**
 * Publishes on the master that serves `channel`'s slot, on a cluster; on a
 * single node simply publishes. Classic PUBLISH is accepted by any cluster node
 * and forwarded to every other one, but ioredis sends a keyless command to a
 * random node, and two publishes sent to different nodes can reach a
 * subscriber in either order. The gateways rely on the order one Redis gives:
 * a `membership` join published before a `deliver` to that room must arrive
 * first, or the new member misses the message. Sending every publish of a
 * channel to one node keeps that order: that node forwards them over one
 * connection per peer. Until the slot map is known (or while its owner is
 * unknown) any node will do.
 */
export function publishOrdered(redis: RedisClient, channel: string, message: string | Buffer): Promise<number> {
  if (!isCluster(redis)) return redis.publish(channel, message);
  const owner = redis.slots[keySlot(channel)]?.[0];
  const node = owner === undefined ? undefined : redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  return (node ?? redis).publish(channel, message);
}

/** CRC16/XMODEM, the checksum Redis Cluster hashes keys with. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/**
 * The cluster slot (0-16383) of a key, or of a channel for sharded pub/sub:
 * CRC16 of the key modulo 16384, where only the part inside the first `{...}`
 * counts if that part is not empty (a hash tag). Keys that must meet in one
 * script, MULTI or multi-key command share a tag.
 *
 * Not cluster-key-slot (what ioredis routes with): it hashes `foo{}{bar}` by
 * `bar`, where Redis itself (CLUSTER KEYSLOT, the test) hashes the whole key.
 */
export function keySlot(key: string | Buffer): number {
  let bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc % 16384;
}
