import path from 'node:path';
import { ConfigError, loadClusterConfig } from '@chat/shared/config';
import { LB_PORT, startCluster } from './cluster.ts';
import { checkPortsFree, checkRedis, checkRedisCluster, descriptorWarning, ensureDatabase, findNginx, PreflightError } from './preflight.ts';

// `npm start`: the whole cluster on this machine, until Ctrl-C or SIGTERM.

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93];
const colorOf = new Map<string, number>();
const tty = process.stdout.isTTY;
function print(name: string, line: string) {
  if (!colorOf.has(name)) colorOf.set(name, COLORS[colorOf.size % COLORS.length] ?? 37);
  const label = name.padEnd(10);
  process.stdout.write(`${tty ? `\x1b[${colorOf.get(name)}m${label}\x1b[0m` : label} | ${line}\n`);
}

async function main(): Promise<number> {
  const config = loadClusterConfig(process.env);
  const range = (base: number, n: number) => Array.from({ length: n }, (_, i) => base + i);
  const apiPorts = range(config.apiBasePort, config.apiReplicas);
  const gatewayPorts = range(config.gatewayBasePort, config.gatewayReplicas);
  const workerPorts = range(config.workerBasePort, config.workerReplicas);

  print('cluster', 'checking prerequisites');
  const nginxBin = await findNginx(config.nginxBin);
  await ensureDatabase(config.databaseUrl);
  // The credentials the services will use too (they read REDIS_USERNAME / REDIS_PASSWORD from the environment we pass on).
  if (config.redisClusterNodes) await checkRedisCluster(config.redisClusterNodes, { username: config.redisUsername, password: config.redisPassword });
  else await checkRedis(config.redisUrl);
  await checkPortsFree([LB_PORT, ...apiPorts, ...gatewayPorts, ...workerPorts]);
  const descriptors = await descriptorWarning();
  if (descriptors) print('cluster', `warning: ${descriptors}`);

  const cluster = await startCluster({
    root: path.resolve(import.meta.dirname, '../..'),
    nginxBin,
    apiPorts,
    gatewayPorts,
    workerPorts,
    // A development tool: it asks for development defaults (the built-in JWT_SECRET
    // among them) unless told otherwise; the services refuse a missing secret otherwise.
    // With REDIS_CLUSTER_NODES the services get it, and REDIS_URL emptied (they refuse both).
    serviceEnv: {
      ENVIRONMENT: config.environment,
      DATABASE_URL: config.databaseUrl,
      ...(config.redisClusterNodes ? { REDIS_URL: '', REDIS_CLUSTER_NODES: config.redisClusterNodes } : { REDIS_URL: config.redisUrl }),
    },
    output: print,
  });
  print(
    'cluster',
    `ready: http://localhost:${LB_PORT}  (${config.apiReplicas} api on ${apiPorts.join(',')}, ${config.gatewayReplicas} gateways on ${gatewayPorts.join(',')}, ${config.workerReplicas} workers on ${workerPorts.join(',') || '-'})`,
  );
  print('cluster', 'a replica or nginx that exits is restarted; press Ctrl-C to stop');

  // `on`, not `once`: a second Ctrl-C while stopping must not kill the runner by
  // default and leave its children (nginx has a process group of its own) running.
  let stopping = false;
  const signal = new Promise<string>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      process.on(s, () => {
        if (stopping) print('cluster', `received ${s}; already stopping`);
        stopping = true;
        resolve(s);
      });
    }
  });
  print('cluster', `received ${await signal}; stopping every process`);
  await cluster.stop();
  print('cluster', 'stopped');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof PreflightError || error instanceof ConfigError) print('cluster', error.message);
    else print('cluster', `failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
