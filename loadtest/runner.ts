import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadClusterConfig, loadOrExit } from '@chat/shared/config';
import { createTestDatabase, deletePrefix, freePort } from '@chat/shared/testing';
import { LB_PORT, startCluster, type RunningCluster } from '../scripts/cluster/cluster.ts';
import { checkPortsFree, checkRedis, ensureDatabase, findNginx } from '../scripts/cluster/preflight.ts';

// Runs one k6 script against a cluster (`npm run loadtest -- <name>`,
// `npm run loadtest:smoke`). With BASE_URL set, against that cluster; otherwise
// against a local one started here (2 API replicas, 2 gateways, nginx on :8080)
// on a fresh database and Redis prefix, removed again afterwards, so runs leave
// nothing behind. Exits with k6's code (99: a threshold failed).

export const SCENARIOS = ['smoke', 'ramp', 'spike', 'soak', 'reconnect-storm'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const isScenario = (name: string): name is Scenario => (SCENARIOS as readonly string[]).includes(name);

const root = path.resolve(import.meta.dirname, '..');
const resultsDir = path.join(root, 'loadtest', 'results');

export const scenarioScript = (name: Scenario) => path.join(root, 'loadtest', name === 'smoke' ? 'smoke.js' : `scenarios/${name}.js`);

/**
 * The load scenarios play hundreds of clients from one address with a few dozen
 * users, so the cluster's per-address and per-user limits are off (0) for them;
 * the smoke keeps the defaults, like a real deployment. nginx's own per-address
 * guard (nginx.conf: 2000 open connections, 200 requests/s with a burst of 400 on
 * /api/ and /api/ws/connect) stays as it is.
 */
const LOAD_LIMITS_OFF: Record<string, string> = {
  LOGIN_ACCOUNT_LIMIT: '0',
  LOGIN_ADDRESS_LIMIT: '0',
  REGISTER_ADDRESS_LIMIT: '0',
  MESSAGE_RATE_LIMIT: '0',
  CONNECT_USER_LIMIT: '0',
  HANDSHAKE_ADDRESS_LIMIT: '0',
};

async function k6Binary(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(root, 'scripts/install-k6.sh')], { maxBuffer: 1 << 20 });
  return stdout.trim().split('\n').at(-1) ?? 'k6';
}

/**
 * nginx guards each client address (nginx.conf: 200 requests/s with a burst of
 * 400 on /api/ and /api/ws/connect, 2000 open connections). From one address the
 * load scenarios would measure that guard, not the cluster, so against the local
 * cluster k6 spreads its VUs over loopback addresses (all of 127.0.0.0/8 is
 * loopback on Linux; k6 gives VU n the n-th address of --local-ips, for HTTP and
 * WebSockets alike). K6_LOCAL_IPS set by the caller wins (`127.0.0.1`: one address).
 */
const LOCAL_IPS = '127.0.0.1-127.0.0.32';

function runK6(
  k6: string,
  script: string,
  env: Record<string, string>,
  k6Args: string[],
  childEnv: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const envArgs = Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]);
  return new Promise((resolve, reject) => {
    // cwd = the repository root: handleSummary() writes loadtest/results/... relative to it.
    const child = spawn(k6, ['run', '--quiet', ...envArgs, ...k6Args, script], { stdio: 'inherit', cwd: root, env: childEnv });
    // Ctrl-C reaches k6 from the terminal (same process group): it stops, prints its
    // summary and exits, and the cluster is removed below. SIGTERM (CI) is passed on.
    const onSigint = () => {};
    const onSigterm = () => child.kill('SIGTERM');
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    const done = () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    };
    child.once('error', (error) => {
      done();
      reject(error);
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

async function ports(basePort: string | undefined, count: number): Promise<number[]> {
  if (basePort) return Array.from({ length: count }, (_, i) => Number(basePort) + i);
  const found = new Set<number>();
  while (found.size < count) found.add(await freePort());
  return [...found];
}

/**
 * Free ports unless API_BASE_PORT / GATEWAY_BASE_PORT choose them: other clusters
 * (tests, benches) may hold 3000/3100. A port found free can be taken by another
 * process a moment later (the machine is shared), so a few draws are allowed.
 */
async function pickPorts(): Promise<{ apiPorts: number[]; gatewayPorts: number[] }> {
  const chosen = Boolean(process.env.API_BASE_PORT || process.env.GATEWAY_BASE_PORT);
  for (let attempt = 1; ; attempt++) {
    const apiPorts = await ports(process.env.API_BASE_PORT, 2);
    const gatewayPorts = await ports(process.env.GATEWAY_BASE_PORT, 2);
    try {
      await checkPortsFree([...apiPorts, ...gatewayPorts]);
      return { apiPorts, gatewayPorts };
    } catch (error) {
      if (chosen || attempt >= 5) throw error;
    }
  }
}

/** Where the cluster's lines go: the console (smoke, as before) or a log file, with errors echoed. */
function clusterOutput(name: Scenario, log: (line: string) => void) {
  if (name === 'smoke')
    return { output: (child: string, line: string) => console.log(`${child.padEnd(10)} | ${line}`), close: () => Promise.resolve() };
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cluster.log`);
  const stream = createWriteStream(file);
  let echoed = 0;
  let problems = 0;
  log(`cluster log: ${path.relative(root, file)}`);
  return {
    output(child: string, line: string) {
      stream.write(`${child.padEnd(10)} | ${line}\n`);
      // nginx's access log (JSON on stdout) stays in the file; service lines at
      // error level and above, nginx's error log and anything unparsed are echoed
      // (the first 20), because they explain failed thresholds.
      const level = /"level":(\d+)/.exec(line)?.[1];
      const isProblem =
        child === 'nginx' ? !line.startsWith('{') : level ? Number(level) >= 50 : !child.startsWith('cluster') && !child.startsWith('migrate');
      if (child === 'cluster' || child === 'migrate') console.log(`${child.padEnd(10)} | ${line}`);
      if (!isProblem) return;
      problems++;
      if (echoed++ < 20) console.log(`${child.padEnd(10)} | ${line.length > 400 ? `${line.slice(0, 400)}...` : line}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        log(`cluster log: ${path.relative(root, file)} (${problems} error or nginx error-log lines${problems > 20 ? ', first 20 shown' : ''})`);
        stream.end(resolve);
      }),
  };
}

/** Runs scenario `name` (k6 args after it are passed to `k6 run`) and resolves with k6's exit code. */
export async function runLoadtest(name: Scenario, k6Args: string[]): Promise<number> {
  const log = (line: string) => console.log(`${name.padEnd(10)} | ${line}`);
  const script = scenarioScript(name);
  const k6 = await k6Binary();
  log(`k6: ${k6}`);
  mkdirSync(resultsDir, { recursive: true });

  if (process.env.BASE_URL) {
    const env: Record<string, string> = { BASE_URL: process.env.BASE_URL };
    if (process.env.GATEWAY_URL) env.GATEWAY_URL = process.env.GATEWAY_URL;
    if (process.env.GATEWAY_URLS) env.GATEWAY_URLS = process.env.GATEWAY_URLS;
    return runK6(k6, script, env, k6Args);
  }

  const config = loadOrExit(() => loadClusterConfig(process.env));
  const nginxBin = await findNginx(config.nginxBin);
  await ensureDatabase(config.databaseUrl);
  await checkRedis(config.redisUrl);
  await checkPortsFree([LB_PORT]);
  const { apiPorts, gatewayPorts } = await pickPorts();

  const admin = new URL(config.databaseUrl);
  admin.pathname = '/postgres';
  const slug = name.replace(/-/g, '_');
  const prefix = `${slug}:${randomBytes(4).toString('hex')}:`;
  const output = clusterOutput(name, log);

  const database = await createTestDatabase({ adminUrl: admin.toString(), prefix: `chat_${slug}` });
  let cluster: RunningCluster | undefined;
  const started = Date.now();
  try {
    cluster = await startCluster({
      root,
      nginxBin,
      apiPorts,
      gatewayPorts,
      serviceEnv: {
        ENVIRONMENT: config.environment,
        DATABASE_URL: database.url,
        REDIS_URL: config.redisUrl,
        REDIS_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        ...(name === 'smoke' ? {} : LOAD_LIMITS_OFF),
      },
      output: output.output,
    });
    const gateways = gatewayPorts.map((p) => `http://127.0.0.1:${p}`);
    log(`cluster up on ${cluster.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (gateways ${gateways.join(', ')}); running k6`);
    const childEnv = name === 'smoke' ? process.env : { ...process.env, K6_LOCAL_IPS: process.env.K6_LOCAL_IPS || LOCAL_IPS };
    if (childEnv.K6_LOCAL_IPS) log(`k6 VUs connect from ${childEnv.K6_LOCAL_IPS} (K6_LOCAL_IPS)`);
    const k6Env = { BASE_URL: cluster.url, GATEWAY_URL: gateways[0] ?? cluster.url, GATEWAY_URLS: gateways.join(',') };
    return await runK6(k6, script, k6Env, k6Args, childEnv);
  } finally {
    await cluster?.stop();
    await database.drop();
    await deletePrefix(prefix, config.redisUrl);
    await output.close();
    log(`cluster stopped, database and Redis keys removed (${((Date.now() - started) / 1000).toFixed(1)} s since start-up)`);
  }
}

/** The command-line entry of run.ts and run-smoke.ts: exits with the code. */
export function main(name: Scenario, k6Args: string[]): void {
  runLoadtest(name, k6Args).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.log(`${name.padEnd(10)} | failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
