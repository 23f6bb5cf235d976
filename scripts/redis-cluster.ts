import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startRedisCluster } from '@chat/shared/testing';

// A local Redis Cluster from this machine's redis-server, on free ports in a
// temporary directory, until Ctrl-C or SIGTERM (then every node is stopped and
// the directory removed):
//
//   node scripts/redis-cluster.ts                      3 masters
//   node scripts/redis-cluster.ts --replicas 1         3 masters, 1 replica each (6 nodes)
//   node scripts/redis-cluster.ts -- npx vitest run e2e/cluster.test.ts
//                                                      runs the command against it, then stops it
//
// The first line on stdout is `REDIS_CLUSTER_NODES=host:port,...`; progress goes
// to stderr. With a command, it gets REDIS_CLUSTER_NODES and
// TEST_REDIS_CLUSTER_NODES (what the tests' helpers read) in its environment,
// REDIS_URL and TEST_REDIS_URL removed, and its exit code becomes ours.

const USAGE = 'usage: node scripts/redis-cluster.ts [--masters N] [--replicas R] [--node-timeout MS] [--verbose] [-- command ...]';

function count(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: not a whole number: ${text}\n${USAGE}`);
  return n;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      masters: { type: 'string' },
      replicas: { type: 'string' },
      'node-timeout': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const say = (line: string) => void process.stderr.write(`redis-cluster | ${line}\n`);
  const masters = count(values.masters, 3, '--masters');
  const replicas = count(values.replicas, 0, '--replicas');
  say(`starting ${masters} masters with ${replicas} replica(s) each`);
  const cluster = await startRedisCluster({
    masters,
    replicas,
    nodeTimeoutMs: values['node-timeout'] === undefined ? undefined : count(values['node-timeout'], 5_000, '--node-timeout'),
    log: values.verbose ? say : undefined,
  });

  // Stop once, whichever comes first: a signal, or the command's end.
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= cluster.stop().then(() => say('stopped; every node ended and its directory removed')));

  process.stdout.write(`REDIS_CLUSTER_NODES=${cluster.nodeList}\n`);
  for (const node of cluster.nodes)
    say(`${node.address} ${node.role}${node.masterId ? ` of ${node.masterId.slice(0, 8)}` : ''} (${node.id.slice(0, 8)})`);

  const [command, ...args] = positionals;
  if (command === undefined) {
    say('ready; Ctrl-C stops it');
    const signal = await new Promise<string>((resolve) => {
      for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => resolve(s));
    });
    say(`received ${signal}; stopping`);
    await stop();
    return 0;
  }

  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_CLUSTER_NODES: cluster.nodeList, TEST_REDIS_CLUSTER_NODES: cluster.nodeList };
  // The services refuse REDIS_URL together with REDIS_CLUSTER_NODES.
  delete env.REDIS_URL;
  delete env.TEST_REDIS_URL;
  const child = spawn(command, args, { stdio: 'inherit', env });
  // The terminal sends Ctrl-C to the child as well; we only wait for it to end.
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => child.kill(s));
  const code = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      say(`cannot run ${command}: ${error.message}`);
      resolve(127);
    });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
  await stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`redis-cluster | ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
