import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadClusterConfig, loadOrExit } from '@chat/shared/config';
import { createTestDatabase, deletePrefix } from '@chat/shared/testing';
import { LB_PORT, startCluster, type RunningCluster } from '../scripts/cluster/cluster.ts';
import { checkPortsFree, checkRedis, ensureDatabase, findNginx } from '../scripts/cluster/preflight.ts';

// `npm run loadtest:smoke`: k6 against a cluster. With BASE_URL set, against that
// one; otherwise against a local cluster started here on a fresh database and
// Redis prefix, removed again afterwards, so runs leave nothing behind.

const root = path.resolve(import.meta.dirname, '..');
const log = (line: string) => console.log(`smoke      | ${line}`);

async function k6Binary(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(root, 'scripts/install-k6.sh')], { maxBuffer: 1 << 20 });
  return stdout.trim().split('\n').at(-1) ?? 'k6';
}

function runK6(k6: string, baseUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(k6, ['run', '--quiet', '-e', `BASE_URL=${baseUrl}`, path.join(root, 'loadtest/smoke.js')], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const k6 = await k6Binary();
  log(`k6: ${k6}`);
  if (process.env.BASE_URL) return runK6(k6, process.env.BASE_URL);

  const config = loadOrExit(() => loadClusterConfig(process.env));
  const nginxBin = await findNginx(config.nginxBin);
  await ensureDatabase(config.databaseUrl);
  await checkRedis(config.redisUrl);
  const apiPorts = [config.apiBasePort, config.apiBasePort + 1];
  const gatewayPorts = [config.gatewayBasePort, config.gatewayBasePort + 1];
  await checkPortsFree([LB_PORT, ...apiPorts, ...gatewayPorts]);

  const admin = new URL(config.databaseUrl);
  admin.pathname = '/postgres';
  const prefix = `smoke:${randomBytes(4).toString('hex')}:`;

  const database = await createTestDatabase({ adminUrl: admin.toString(), prefix: 'chat_smoke' });
  let cluster: RunningCluster | undefined;
  try {
    cluster = await startCluster({
      root,
      nginxBin,
      apiPorts,
      gatewayPorts,
      serviceEnv: { ENVIRONMENT: process.env.ENVIRONMENT || 'development', DATABASE_URL: database.url, REDIS_URL: config.redisUrl, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' },
      output: (name, line) => console.log(`${name.padEnd(10)} | ${line}`),
    });
    log(`cluster up on ${cluster.url}; running k6`);
    return await runK6(k6, cluster.url);
  } finally {
    await cluster?.stop();
    await database.drop();
    await deletePrefix(prefix, config.redisUrl);
    log('cluster stopped, database and Redis keys removed');
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
