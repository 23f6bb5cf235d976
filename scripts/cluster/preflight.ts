import { execFile } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';

/** A missing prerequisite, said the way a newcomer can act on. */
export class PreflightError extends Error {}

const redact = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

/** Finds nginx on PATH or where Debian puts it (/usr/sbin is not on every user's PATH). */
export async function findNginx(explicit: string | undefined): Promise<string> {
  const candidates = explicit
    ? [explicit]
    : [
        ...(process.env.PATH ?? '')
          .split(':')
          .filter(Boolean)
          .map((dir) => `${dir}/nginx`),
        '/usr/sbin/nginx',
        '/usr/local/sbin/nginx',
      ];
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      await promisify(execFile)(candidate, ['-v']);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new PreflightError(
    explicit
      ? `nginx was not found at NGINX_BIN=${explicit}.`
      : 'nginx is not installed (looked on PATH and in /usr/sbin).\n' +
          '  Debian/Ubuntu: sudo apt-get install -y nginx\n' +
          '  macOS:         brew install nginx\n' +
          '  or point NGINX_BIN at an nginx binary.',
  );
}

/** Connects to PostgreSQL and creates the database if the server has none of that name. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new PreflightError(
      `PostgreSQL is not reachable at ${redact(url)} (${(error as Error).message}).\n` +
        '  Start it (Debian: sudo pg_ctlcluster <version> main start; macOS: brew services start postgresql)\n' +
        '  or set DATABASE_URL to a server you can reach.',
    );
  }
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

export async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new PreflightError(
      `Redis is not reachable at ${redact(url)} (${(error as Error).message}).\n` +
        '  Start it (Debian: sudo apt-get install -y redis-server && redis-server --daemonize yes; macOS: brew services start redis)\n' +
        '  or set REDIS_URL to a server you can reach.',
    );
  } finally {
    redis.disconnect();
  }
}

/** REDIS_CLUSTER_NODES (`host:port,...`): the cluster answers and serves every slot. */
export async function checkRedisCluster(nodes: string, credentials: { username?: string; password?: string } = {}): Promise<void> {
  const startupNodes = nodes.split(',').map((entry) => {
    const at = entry.trim().lastIndexOf(':');
    return {
      host: entry
        .trim()
        .slice(0, at)
        .replace(/^\[|\]$/g, ''),
      port: Number(entry.trim().slice(at + 1)),
    };
  });
  // No retries: a cluster that is not there should be reported, not waited for.
  const cluster = new Cluster(startupNodes, {
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: 3_000,
    redisOptions: { ...credentials, connectTimeout: 3_000, maxRetriesPerRequest: 0 },
  });
  cluster.on('error', () => {});
  try {
    await cluster.connect();
    const info = String(await cluster.call('CLUSTER', 'INFO'));
    if (!/cluster_state:ok/.test(info)) throw new Error('cluster_state is not ok');
  } catch (error) {
    throw new PreflightError(
      `The Redis Cluster at REDIS_CLUSTER_NODES=${nodes} is not reachable or not healthy (${(error as Error).message}).\n` +
        '  Start a local one with: node scripts/redis-cluster.ts -- npm start\n' +
        '  or unset REDIS_CLUSTER_NODES to use a single Redis (REDIS_URL).',
    );
  } finally {
    cluster.disconnect();
  }
}

/** Fails early, naming the port, instead of letting a replica die on EADDRINUSE. */
export async function checkPortsFree(ports: number[]): Promise<void> {
  for (const port of ports) {
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', () =>
        reject(
          new PreflightError(
            `port ${port} is already in use (is another cluster running?); choose other ports (API_BASE_PORT, GATEWAY_BASE_PORT: docs/configuration.md); 8080 is nginx.conf's.`,
          ),
        ),
      );
      probe.listen(port, '0.0.0.0', () => probe.close(() => resolve()));
    });
  }
}

/** Sockets the shipped nginx.conf is sized for (deploy/README.md#capacity). */
const SOCKETS_SIZED_FOR = 16_000;

/** The soft and hard open-file limits in a /proc/<pid>/limits text, or undefined if it has none. */
export function parseOpenFileLimit(limits: string): { soft: number; hard: number } | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!m) return undefined;
  const value = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: value(m[1]), hard: value(m[2]) };
}

/**
 * A warning when the open-file limit the replicas inherit holds fewer sockets
 * than nginx.conf is sized for: each gateway holds one descriptor per socket, and
 * a gateway left alone after a peer died takes all of them. Not an error: a
 * developer's cluster with a few hundred sockets runs fine under 1024.
 */
export async function descriptorWarning(): Promise<string | undefined> {
  const limit = parseOpenFileLimit(await readFile('/proc/self/limits', 'utf8').catch(() => ''));
  if (!limit || limit.soft >= SOCKETS_SIZED_FOR) return undefined;
  return (
    `open-file limit ${limit.soft} (hard ${limit.hard}): a gateway holds at most about that many sockets; ` +
    `run \`ulimit -n ${Math.min(20_000, limit.hard)}\` first for more (deploy/README.md#capacity)`
  );
}
