import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePorts } from './ports.ts';

/**
 * A local Redis Cluster made of the machine's own `redis-server` processes, for
 * the tests (TEST_REDIS_CLUSTER=1) and `node scripts/redis-cluster.ts`. Never
 * the shared Redis on 6379: every node gets free ports and a temporary
 * directory of its own, and everything is removed again by stop().
 */
export interface RedisClusterOptions {
  /** Masters (each gets a third or so of the 16384 slots); redis-cli needs at least 3. Default 3. */
  masters?: number;
  /** Replicas per master; 1 gives the 6-node layout that failover tests need. Default 0. */
  replicas?: number;
  /**
   * CLUSTER's node timeout: how long a node may be unreachable before the others
   * count it as failed (and, with replicas, fail over). The default, 5 s, is short
   * for a test yet long enough that a busy 2-core machine does not fail a
   * healthy master by mistake; failover tests may lower it.
   */
  nodeTimeoutMs?: number;
  /** Where the nodes' cluster state files go; a fresh temporary directory by default. */
  dir?: string;
  /** Each line the nodes and redis-cli print, for diagnostics; dropped by default. */
  log?: (line: string) => void;
}

export interface RedisClusterNode {
  host: string;
  port: number;
  /** `host:port`, as REDIS_CLUSTER_NODES lists it. */
  address: string;
  /** As assigned by `redis-cli --cluster create`; a failover changes it, so ask `roleOf` for the current one. */
  role: 'master' | 'replica';
  /** The node's cluster id (CLUSTER MYID). */
  id: string;
  /** For a replica: the id of its master at creation. */
  masterId: string | undefined;
}

export interface RedisCluster {
  nodes: readonly RedisClusterNode[];
  /** `host:port,host:port,...`: the value for REDIS_CLUSTER_NODES. */
  nodeList: string;
  masters(): RedisClusterNode[];
  /** SIGKILL one node (a crash); resolves once it has exited. Its slots fail over to a replica, if it has one. */
  kill(port: number): Promise<void>;
  /** SIGSTOP / SIGCONT one node: it keeps its connections and answers nothing (a hang). */
  pause(port: number): void;
  resume(port: number): void;
  /** Starts a killed node again on its port with its cluster state file, so it rejoins (as a replica once it was replaced). */
  restart(port: number): Promise<void>;
  /** The node's role right now, as it reports it (ROLE). */
  roleOf(port: number): Promise<'master' | 'replica'>;
  /** Resolves once every running node reports `cluster_state:ok` and knows every other one. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `masters * (1 + replicas)` nodes, joins them into one cluster and waits until it serves every slot. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 5_000;
  const log = options.log ?? (() => {});
  if (!Number.isInteger(masters) || masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error('replicas must be 0 or more');
  const count = masters * (1 + replicas);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'redis-cluster-')));

  // Two ports per node, all held at once so none repeats: the client port and the
  // cluster bus port (by default port + 10000, which nobody checked is free).
  const ports = await freePorts(count * 2);
  const specs = Array.from({ length: count }, (_, i) => ({ port: ports[2 * i] as number, busPort: ports[2 * i + 1] as number }));
  const children = new Map<number, ChildProcess>();

  const spawnNode = (spec: { port: number; busPort: number }) => {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(spec.port),
        '--bind',
        HOST,
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(spec.busPort),
        '--cluster-config-file',
        path.join(dir, `nodes-${spec.port}.conf`),
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        '--dir',
        dir,
        // Like compose and the tests' single node: nothing on disk but the cluster state.
        '--save',
        '',
        '--appendonly',
        'no',
        // A replica's first sync starts at once instead of after the default 5 s wait for more replicas.
        '--repl-diskless-sync-delay',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`${spec.port}: ${line}`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    children.set(spec.port, child);
    return child;
  };
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

  // A test run or a script that dies without calling stop() must not leave nodes behind.
  const killAll = () => {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killAll);
    const all = [...children.values()];
    for (const child of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT');
    killAll();
    await Promise.all(all.map(exited));
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const spec of specs) spawnNode(spec);
    await Promise.all(specs.map((s) => untilAnswering(s.port)));
    const addresses = specs.map((s) => `${HOST}:${s.port}`);
    try {
      const { stdout } = await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], {
        timeout: 60_000,
      });
      for (const line of stdout.split('\n')) if (line.trim()) log(`redis-cli: ${line}`);
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed: ${(error as Error).message}\n${stdout}${stderr}`, { cause: error });
    }
    await waitUntilHealthy(
      specs.map((s) => s.port),
      count,
      30_000,
    );
    const nodes = await describeNodes(specs[0]?.port as number);
    const byPort = new Map(nodes.map((n) => [n.port, n]));
    const ordered = specs.map((s) => byPort.get(s.port) ?? missing(s.port));

    const child = (port: number) => children.get(port) ?? missing(port);
    const spec = (port: number) => specs.find((s) => s.port === port) ?? missing(port);
    return {
      nodes: ordered,
      nodeList: addresses.join(','),
      masters: () => ordered.filter((n) => n.role === 'master'),
      async kill(port) {
        const node = child(port);
        node.kill('SIGCONT');
        node.kill('SIGKILL');
        await exited(node);
      },
      pause: (port) => void child(port).kill('SIGSTOP'),
      resume: (port) => void child(port).kill('SIGCONT'),
      async restart(port) {
        const old = child(port);
        if (old.exitCode === null && old.signalCode === null) throw new Error(`node ${port} is still running`);
        spawnNode(spec(port));
        await untilAnswering(port);
      },
      async roleOf(port) {
        const [role] = (await withNode(port, (r) => r.call('ROLE'))) as [string];
        return role === 'master' ? 'master' : 'replica';
      },
      waitUntilHealthy: (timeoutMs = 30_000) =>
        waitUntilHealthy(
          specs.filter((s) => child(s.port).exitCode === null && child(s.port).signalCode === null).map((s) => s.port),
          count,
          timeoutMs,
        ),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function missing(port: number): never {
  throw new Error(`no node of this cluster listens on ${port}`);
}

/** Runs `fn` on a short-lived plain connection to one node. */
async function withNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Refused until the node listens: expected, and reported through connect() below.
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

async function untilAnswering(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await withNode(port, (r) => r.ping());
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

/** `cluster_state:ok` with every slot assigned on each node, each knowing all `count` nodes; replicas linked to their master. */
async function waitUntilHealthy(ports: number[], count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(
      ports.map((port) =>
        withNode(port, async (r) => {
          const info = parseInfo(String(await r.call('CLUSTER', 'INFO')));
          const replication = parseInfo(await r.info('replication'));
          const linked = replication.role === 'master' || replication.master_link_status === 'up';
          const ok = info.cluster_state === 'ok' && info.cluster_slots_assigned === '16384' && info.cluster_known_nodes === String(count) && linked;
          return {
            port,
            ok,
            state: `${info.cluster_state}, ${info.cluster_known_nodes}/${count} known, link ${replication.master_link_status ?? 'master'}`,
          };
        }).catch((error: unknown) => ({ port, ok: false, state: String(error) })),
      ),
    );
    if (states.every((s) => s.ok)) return;
    if (Date.now() > deadline) {
      throw new Error(`the Redis Cluster did not become healthy within ${timeoutMs} ms (${states.map((s) => `${s.port}: ${s.state}`).join('; ')})`);
    }
    await sleep(100);
  }
}

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

/** Roles and ids as CLUSTER NODES reports them: `<id> <ip:port@bus> <flags> <master id or -> ...`. */
async function describeNodes(port: number): Promise<RedisClusterNode[]> {
  const text = String(await withNode(port, (r) => r.call('CLUSTER', 'NODES')));
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id = '', endpoint = '', flags = '', masterId = '-'] = line.split(' ');
      const [hostPort = ''] = endpoint.split('@');
      const at = hostPort.lastIndexOf(':');
      const nodePort = Number(hostPort.slice(at + 1));
      const replica = flags.split(',').includes('slave');
      return {
        host: HOST,
        port: nodePort,
        address: `${HOST}:${nodePort}`,
        role: replica ? 'replica' : 'master',
        id,
        masterId: replica && masterId !== '-' ? masterId : undefined,
      };
    });
}
