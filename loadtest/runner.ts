import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadClusterConfig, loadOrExit } from '@chat/shared/config';
import { createTestDatabase, deletePrefix, freePort } from '@chat/shared/testing';
import { LB_PORT, startCluster, type RunningCluster } from '../scripts/cluster/cluster.ts';
import { checkPortsFree, checkRedis, ensureDatabase, findNginx } from '../scripts/cluster/preflight.ts';

// Runs one load scenario against a cluster (`npm run loadtest -- <name>`,
// `npm run loadtest:smoke`): on the project's Node load driver (loadtest/node/,
// built from the bench's clients), or with `--k6` the k6 script with the user's
// own k6. With BASE_URL set, against that cluster; otherwise against a local one
// started here (2 API replicas, 2 gateways, nginx on :8080) on a fresh database
// and Redis prefix, removed again afterwards, so runs leave nothing behind. Exits
// with the scenario's code (99: a threshold failed, for both drivers).

export const SCENARIOS = ['smoke', 'ramp', 'spike', 'soak', 'reconnect-storm'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const isScenario = (name: string): name is Scenario => (SCENARIOS as readonly string[]).includes(name);

const root = path.resolve(import.meta.dirname, '..');
const resultsDir = path.join(root, 'loadtest', 'results');

const k6Script = (name: Scenario) => path.join(root, 'loadtest', name === 'smoke' ? 'smoke.js' : `scenarios/${name}.js`);

/** The scenarios the Node load driver has; the others run on k6 only (`--k6`). */
const NODE_SCENARIOS: Partial<Record<Scenario, string>> = {
  smoke: path.join(root, 'loadtest', 'node', 'smoke.ts'),
  ramp: path.join(root, 'loadtest', 'node', 'ramp.ts'),
};

const K6_MISSING = [
  'k6 not found: K6_BIN is not set and there is no `k6` on PATH.',
  'The project neither builds nor downloads k6 (its licence, AGPL-3.0, is not one the project takes in).',
  'Install k6 1.x yourself (https://grafana.com/docs/k6/latest/set-up/) and put it on PATH, or set K6_BIN to its path.',
  "Without --k6, smoke and ramp run on the project's Node load driver.",
];

/** The user's own k6: `$K6_BIN`, else `k6` on PATH; undefined when there is none. Never built or downloaded here. */
function findK6(): string | undefined {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (process.env.K6_BIN) {
    if (!executable(process.env.K6_BIN)) throw new Error(`K6_BIN=${process.env.K6_BIN} is not an executable file`);
    return process.env.K6_BIN;
  }
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'k6'))
    .find(executable);
}

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

/**
 * nginx guards each client address (nginx.conf: 200 requests/s with a burst of
 * 400 on /api/ and /api/ws/connect, 2000 open connections). From one address the
 * load scenarios would measure that guard, not the cluster, so against the local
 * cluster k6 spreads its VUs over loopback addresses (all of 127.0.0.0/8 is
 * loopback on Linux; k6 gives VU n the n-th address of --local-ips, for HTTP and
 * WebSockets alike). K6_LOCAL_IPS set by the caller wins (`127.0.0.1`: one address).
 */
const LOCAL_IPS = '127.0.0.1-127.0.0.32';

/** What runs the scenario: a command and its arguments, given the cluster's addresses. */
type Command = (env: Record<string, string>) => { bin: string; args: string[] };

const k6Command =
  (k6: string, script: string, k6Args: string[]): Command =>
  (env) => ({ bin: k6, args: ['run', '--quiet', ...Object.entries(env).flatMap(([n, v]) => ['-e', `${n}=${v}`]), ...k6Args, script] });

/** The Node scenario takes the addresses from its environment and `-e NAME=value` arguments. */
const nodeCommand =
  (script: string, args: string[]): Command =>
  () => ({ bin: process.execPath, args: [script, ...args] });

function runCommand(command: Command, env: Record<string, string>, childEnv: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { bin, args } = command(env);
  return new Promise((resolve, reject) => {
    // cwd = the repository root: k6's handleSummary() writes loadtest/results/... relative to it.
    const child = spawn(bin, args, { stdio: 'inherit', cwd: root, env: { ...childEnv, ...env } });
    // Ctrl-C reaches the scenario from the terminal (same process group): it stops
    // and exits, and the cluster is removed below. SIGTERM (CI) is passed on.
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

/**
 * Runs scenario `name` and resolves with its exit code. `--k6` among `args` runs
 * the k6 script with the user's own k6 (the other arguments go to `k6 run`);
 * otherwise the Node scenario runs, taking `-e NAME=value` arguments.
 */
export async function runLoadtest(name: Scenario, args: string[]): Promise<number> {
  const log = (line: string) => console.log(`${name.padEnd(10)} | ${line}`);
  const useK6 = args.includes('--k6');
  const rest = args.filter((a) => a !== '--k6');
  let command: Command;
  if (useK6) {
    const k6 = findK6();
    if (!k6) {
      for (const line of K6_MISSING) log(line);
      return 2;
    }
    const version = spawnSync(k6, ['version'], { encoding: 'utf8' });
    log(`k6: ${k6} (${(version.stdout || version.stderr || '').trim().split('\n')[0] ?? '?'})`);
    command = k6Command(k6, k6Script(name), rest);
  } else {
    const script = NODE_SCENARIOS[name];
    if (!script) {
      log(`${name} exists only as a k6 script (${path.relative(root, k6Script(name))}): run it with your own k6, npm run loadtest -- ${name} --k6`);
      return 2;
    }
    log(`Node load driver: ${path.relative(root, script)}`);
    command = nodeCommand(script, rest);
  }
  mkdirSync(resultsDir, { recursive: true });

  if (process.env.BASE_URL) {
    const env: Record<string, string> = { BASE_URL: process.env.BASE_URL };
    if (process.env.GATEWAY_URL) env.GATEWAY_URL = process.env.GATEWAY_URL;
    if (process.env.GATEWAY_URLS) env.GATEWAY_URLS = process.env.GATEWAY_URLS;
    return runCommand(command, env);
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
    log(`cluster up on ${cluster.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (gateways ${gateways.join(', ')})`);
    // The Node driver spreads its clients over loopback addresses itself (loadtest/node/common.ts).
    const childEnv = !useK6 || name === 'smoke' ? process.env : { ...process.env, K6_LOCAL_IPS: process.env.K6_LOCAL_IPS || LOCAL_IPS };
    if (useK6 && childEnv.K6_LOCAL_IPS) log(`k6 VUs connect from ${childEnv.K6_LOCAL_IPS} (K6_LOCAL_IPS)`);
    const env = { BASE_URL: cluster.url, GATEWAY_URL: gateways[0] ?? cluster.url, GATEWAY_URLS: gateways.join(',') };
    return await runCommand(command, env, childEnv);
  } finally {
    await cluster?.stop();
    await database.drop();
    await deletePrefix(prefix, config.redisUrl);
    await output.close();
    log(`cluster stopped, database and Redis keys removed (${((Date.now() - started) / 1000).toFixed(1)} s since start-up)`);
  }
}

/** The command-line entry of run.ts and run-smoke.ts: exits with the code. */
export function main(name: Scenario, args: string[]): void {
  runLoadtest(name, args).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.log(`${name.padEnd(10)} | failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
