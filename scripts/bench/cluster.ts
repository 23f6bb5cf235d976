import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, deletePrefix, freePort, type TestDatabase } from '@chat/shared/testing';
import { LB_PORT, startCluster, type RunningCluster } from '../cluster/cluster.ts';
import { checkPortsFree, findNginx, PreflightError } from '../cluster/preflight.ts';
import { sleep } from './stats.ts';

// The system under test: the local runner's cluster (2 API, 2 gateways, nginx
// with the repository's nginx.conf) on a database and Redis prefix of its own.

export const JWT_SECRET = 'bench-suite-secret-that-is-long-enough-for-hs256';
export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = path.resolve(import.meta.dirname, '../..');

/** Every limit off (0): one machine plays thousands of clients from a few addresses. */
const NO_LIMITS: Record<string, string> = {
  LOGIN_ACCOUNT_LIMIT: '0',
  LOGIN_ADDRESS_LIMIT: '0',
  REGISTER_ADDRESS_LIMIT: '0',
  MESSAGE_RATE_LIMIT: '0',
  CONNECT_USER_LIMIT: '0',
  HANDSHAKE_ADDRESS_LIMIT: '0',
  WEBHOOK_CREATE_LIMIT: '0',
};

export interface BenchDatabase {
  database: TestDatabase;
  redisPrefix: string;
  /** Drops the database and deletes the Redis keys; safe to call twice. */
  drop(): Promise<void>;
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const database = await createTestDatabase({ adminUrl: ADMIN_URL, prefix: 'chat_bench' });
  const redisPrefix = `bench:${randomBytes(6).toString('hex')}:`;
  let dropped: Promise<void> | undefined;
  return {
    database,
    redisPrefix,
    drop() {
      dropped ??= Promise.all([database.drop(), deletePrefix(redisPrefix, REDIS_URL)]).then(() => undefined);
      return dropped;
    },
  };
}

export interface BenchCluster {
  lbUrl: string;
  apiPorts: number[];
  gatewayPorts: number[];
  metricsEnabled: boolean;
  logPath: string;
  /** The environment every service got on top of the bench's own (a section's extra services, e.g. webhook workers, get it too). */
  serviceEnv: Record<string, string>;
  /** Pid of `api-<n>` (1-based). */
  apiPid(n: number): number;
  /** Port of `api-<n>`'s Prometheus listener, once it said so in its log. */
  apiMetricsPort(n: number): number | undefined;
  /** Pid of `gateway-<n>` (1-based). */
  gatewayPid(n: number): number;
  /** Port of `gateway-<n>`'s Prometheus listener, once it said so in its log. */
  gatewayMetricsPort(n: number): number | undefined;
  /** SIGTERM to one gateway; the runner starts it again; resolves once the new one is healthy. */
  restartGateway(n: number): Promise<void>;
  /** `signal` to one gateway as a crash would; the runner starts it again. */
  killGateway(n: number, signal: NodeJS.Signals): void;
  nginxPids(): Promise<number[]>;
  /** nginx's gateway upstream at `ports` (bare servers), or back at the gateways without; see RunningCluster. */
  routeGateways(ports?: number[]): Promise<void>;
  stop(): Promise<void>;
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** The previous user of the port (another run that just stopped) may still be letting go of it. */
async function waitPortFree(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await checkPortsFree([port]);
    } catch (error) {
      if (!(error instanceof PreflightError) || Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

async function healthy(url: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not healthy in time`);
    await sleep(100);
  }
}

export async function startBenchCluster(
  db: BenchDatabase,
  opts: { metricsEnabled: boolean; profileDir?: string | undefined },
): Promise<BenchCluster> {
  const nginxBin = await findNginx(process.env.NGINX_BIN);
  await waitPortFree(LB_PORT, 30_000);
  const logPath = path.join(tmpdir(), `chat-bench-${opts.metricsEnabled ? 'metrics' : 'nometrics'}-${Date.now()}.log`);
  const log = createWriteStream(logPath);
  const metricsPorts = new Map<string, number>();
  const output = (name: string, line: string) => {
    log.write(`${name.padEnd(10)} | ${line}\n`);
    if ((name.startsWith('gateway-') || name.startsWith('api-')) && line.includes('metrics listening')) {
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port === 'number') metricsPorts.set(name, port);
    }
  };
  const ports = await distinctFreePorts(4);
  const apiPorts = ports.slice(0, 2);
  const gatewayPorts = ports.slice(2, 4);
  const serviceEnv: Record<string, string> = {
    DATABASE_URL: db.database.url,
    REDIS_URL,
    REDIS_PREFIX: db.redisPrefix,
    JWT_SECRET,
    ENVIRONMENT: 'test',
    METRICS_ENABLED: String(opts.metricsEnabled),
    ...NO_LIMITS,
    // The webhooks section's receiver listens on 127.0.0.1: the API checks a webhook's URL when it is made, the worker at every delivery.
    WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8',
    // Each service writes <dir>/CPU.<date>.<pid>...cpuprofile when it exits.
    ...(opts.profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opts.profileDir}` } : {}),
  };
  let cluster: RunningCluster;
  try {
    cluster = await startCluster({ root, nginxBin, apiPorts, gatewayPorts, serviceEnv, output });
  } catch (error) {
    log.end();
    throw error;
  }
  const pidOfName = (name: string) => {
    const pid = cluster.pid(name);
    if (pid === undefined) throw new Error(`${name} is not running`);
    return pid;
  };
  const pidOf = (n: number) => pidOfName(`gateway-${n}`);
  return {
    lbUrl: cluster.url,
    apiPorts,
    gatewayPorts,
    metricsEnabled: opts.metricsEnabled,
    logPath,
    serviceEnv,
    apiPid: (n) => pidOfName(`api-${n}`),
    apiMetricsPort: (n) => metricsPorts.get(`api-${n}`),
    gatewayPid: pidOf,
    gatewayMetricsPort: (n) => metricsPorts.get(`gateway-${n}`),
    async restartGateway(n) {
      const name = `gateway-${n}`;
      const old = pidOf(n);
      metricsPorts.delete(name);
      cluster.kill(name, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (cluster.pid(name) === undefined || cluster.pid(name) === old) {
        if (Date.now() > deadline) throw new Error(`${name} was not restarted`);
        await sleep(100);
      }
      await healthy(`http://127.0.0.1:${gatewayPorts[n - 1]}/health`, 30_000);
      while (opts.metricsEnabled && !metricsPorts.has(name) && Date.now() < deadline) await sleep(50);
    },
    killGateway: (n, signal) => cluster.kill(`gateway-${n}`, signal),
    nginxPids: () => cluster.nginxPids(),
    routeGateways: (ports) => cluster.routeGateways(ports),
    async stop() {
      await cluster.stop();
      await new Promise((resolve) => log.end(resolve));
    },
  };
}
