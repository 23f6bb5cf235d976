import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { exitOf, supervise, type Supervised } from './supervisor.ts';

/** The load balancer's port: nginx.conf's `listen`, the one origin clients use. */
/**
 * V8 flags of every gateway process (here, in docker-compose.yml and in
 * package.json's start:gateway; deploy/deploy.unit.test.ts checks they agree). A gateway
 * holds many idle connections: left to itself, V8 grows the young generation
 * to 64 MB semi-spaces under a connection storm and keeps it, which tripled the
 * resident memory per idle WebSocket (loadtest/README.md, idle). 4 MB costs a
 * few more scavenges under load.
 */
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * V8 flags of every API process (here, in docker-compose.yml, in package.json's
 * start:api and in deploy/Dockerfile's CMD; deploy/deploy.unit.test.ts checks they
 * agree). Under a steady stream of requests V8 grows the young generation to two
 * 64 MB semi-spaces and keeps them: about 120 MB of resident memory that the heap
 * "used" figure never shows, most of the RSS an API replica has beyond its heap
 * (npm run bench -- soak; docs/operations.md#memory). 8 MB semi-spaces cost no
 * measurable CPU at 75-150 requests/s per replica.
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=8'];

export const LB_PORT = 8080;

export interface ClusterSpec {
  /** The repository root (holds nginx.conf and services/; the API serves web/ from there itself). */
  root: string;
  nginxBin: string;
  apiPorts: number[];
  gatewayPorts: number[];
  /** Health ports of the workers (webhooks and push); none when absent. */
  workerPorts?: number[];
  /** Passed to every service on top of this process's environment. */
  serviceEnv: Record<string, string>;
  /** Receives each line a child prints, with the child's name. */
  output: (name: string, line: string) => void;
}

export interface RunningCluster {
  url: string;
  names: string[];
  /** A child's current process id (for nginx, its process group's); undefined while it waits to be restarted. */
  pid(name: string): number | undefined;
  /** Sends `signal` to one child as a crash from outside would: once up, an exited child is restarted. */
  kill(name: string, signal: NodeJS.Signals): void;
  /** Stops one child for good (no restart) and resolves with its exit code. */
  stopOne(name: string, signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM to every child, SIGKILL to any still running after the grace period; nothing restarts. Safe to call twice. */
  stop(): Promise<void>;
  /** nginx's master and worker processes, master first (for the benchmark's memory figures). */
  nginxPids(): Promise<number[]>;
  /**
   * Points nginx's gateway upstream at `ports` (a benchmark's bare servers behind the
   * same nginx) and reloads it; without ports, back at the gateways. Resolves once
   * nginx's old workers have exited, so every later connection sees the new list.
   */
  routeGateways(ports?: number[]): Promise<void>;
}

const GRACE_MS = 12_000;

function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, spec: ClusterSpec, group = false): ChildProcess {
  const child = spawn(command, args, { cwd: spec.root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: group });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => spec.output(name, line));
  }
  return child;
}

async function waitHealthy(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not become healthy in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the topology of docs/architecture.md#components as local processes:
 * migrations, then API, gateway and worker replicas and nginx with the repository's
 * own nginx.conf, whose upstream lists this writes into a private prefix
 * directory.
 */
export async function startCluster(spec: ClusterSpec): Promise<RunningCluster> {
  // Node's compile cache keeps the services' compiled code (type-stripped
  // TypeScript included) on disk: a replica restarted after a crash loads its
  // modules in about a third of the time (0.55 s against 1.5 s here), which is
  // how long a killed gateway's clients all wait on the survivors. Outside the
  // clone, per user (a cache another user wrote cannot be reused); Node checks
  // every entry against its source, so a stale one is never used.
  const compileCache = path.join(tmpdir(), `chat-node-compile-cache-${process.getuid?.() ?? 'user'}`);
  const env = { NODE_COMPILE_CACHE: compileCache, ...process.env, ...spec.serviceEnv };
  const node = process.execPath;

  const migrate = run('migrate', node, ['shared/src/db/migrate-cli.ts'], env, spec);
  const migrated = await exitOf(migrate);
  if (migrated !== 0) throw new Error(`migrations failed (exit ${migrated})`);

  // nginx resolves includes against the directory of the config file it opened
  // and everything else against -p, so both point at this prefix.
  const prefix = await mkdtemp(path.join(tmpdir(), 'chat-cluster-'));
  // mkdtemp makes it 0700; nginx started as root runs its workers as an
  // unprivileged user, which must be able to enter it to reach the temp dirs
  // (proxy_temp, client_body_temp) nginx makes here. Workers read nothing from
  // the repository (a clone in a 0700 folder is fine): the API serves web/.
  await chmod(prefix, 0o755);
  await mkdir(path.join(prefix, 'upstreams'));
  await symlink(path.join(spec.root, 'nginx.conf'), path.join(prefix, 'nginx.conf'));
  const servers = (ports: number[]) => ports.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;\n`).join('');
  const gatewayUpstreams = (ports: number[]) => writeFile(path.join(prefix, 'upstreams', 'gateway.conf'), servers(ports));
  await writeFile(path.join(prefix, 'upstreams', 'api.conf'), servers(spec.apiPorts));
  await gatewayUpstreams(spec.gatewayPorts);

  // Until every replica and nginx answered once, an exit means a broken set-up
  // (a port taken, bad configuration) that restarting would only repeat: start-up
  // fails instead. After that, an exit is a crash, and the child is restarted.
  let up = false;
  let failStartUp: (reason: Error) => void = () => {};
  const diedDuringStartUp = new Promise<never>((_resolve, reject) => {
    failStartUp = reject;
  });
  const onCrash = (name: string, how: string) => {
    if (!up) failStartUp(new Error(`${name} ${how} during start-up`));
    return up;
  };
  const log = (line: string) => spec.output('cluster', line);

  const children = new Map<string, Supervised>();
  const add = (name: string, command: string, args: string[], childEnv: NodeJS.ProcessEnv, group = false) => {
    children.set(name, supervise({ name, spawn: () => run(name, command, args, childEnv, spec, group), group, log, onCrash }));
  };
  spec.apiPorts.forEach((port, i) => {
    // Replicas share this host, so each takes a free metrics port (the default ones would clash).
    add(`api-${i + 1}`, node, [...API_NODE_FLAGS, 'services/api/src/main.ts'], { ...env, PORT: String(port), METRICS_PORT: '0' });
  });
  spec.gatewayPorts.forEach((port, i) => {
    const name = `gateway-${i + 1}`;
    // A restarted gateway keeps its GATEWAY_ID, as under compose; presence gives
    // each process an entry of its own (shared/src/presence/writer.ts).
    add(name, node, [...GATEWAY_NODE_FLAGS, 'services/gateway/src/main.ts'], { ...env, PORT: String(port), METRICS_PORT: '0', GATEWAY_ID: name });
  });
  const workerPorts = spec.workerPorts ?? [];
  workerPorts.forEach((port, i) => {
    const name = `worker-${i + 1}`;
    add(name, node, ['services/worker/src/main.ts'], { ...env, PORT: String(port), METRICS_PORT: '0', WORKER_ID: name });
  });
  // nginx.conf logs to /dev/stdout, which cannot be opened on the socketpair Node
  // gives a child for stdio; a shell pipe gives nginx a real one. nginx and the
  // shell share a process group of their own, and signals go to the whole group.
  const nginxArgs = ['-e', 'stderr', '-p', `${prefix}/`, '-c', 'nginx.conf', '-g', 'daemon off;'];
  add('nginx', '/bin/sh', ['-c', '"$0" "$@" | cat', spec.nginxBin, ...nginxArgs], env, true);

  const child = (name: string) => {
    const found = children.get(name);
    if (!found) throw new Error(`no process named ${name}`);
    return found;
  };
  const stopChild = (name: string, signal: NodeJS.Signals = 'SIGTERM') => child(name).stop(signal, GRACE_MS);

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all([...children.keys()].map((name) => stopChild(name)));
      await rm(prefix, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const deadline = Date.now() + 30_000;
    // Replicas first: asking nginx earlier only fills its log with refused connections.
    const ready = Promise.all(
      [...spec.apiPorts, ...spec.gatewayPorts, ...workerPorts].map((p) => waitHealthy(`http://127.0.0.1:${p}/health`, deadline)),
    ).then(() => waitHealthy(`http://127.0.0.1:${LB_PORT}/health`, deadline));
    await Promise.race([ready, diedDuringStartUp]);
    up = true;
  } catch (error) {
    await stop();
    throw error;
  }

  const nginxPids = async () => {
    const master = Number((await readFile(path.join(prefix, 'nginx.pid'), 'utf8')).trim());
    return [master, ...(await childPids(master))];
  };

  return {
    url: `http://127.0.0.1:${LB_PORT}`,
    names: [...children.keys()],
    pid: (name) => child(name).pid(),
    kill: (name, signal) => void child(name).kill(signal),
    stopOne: stopChild,
    stop,
    nginxPids,
    async routeGateways(ports = spec.gatewayPorts) {
      await gatewayUpstreams(ports);
      const [master, ...before] = await nginxPids();
      process.kill(master as number, 'SIGHUP');
      // A reload starts new workers with the new configuration and lets the old ones
      // finish their connections; the callers close theirs before switching.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const now = await childPids(master as number);
        if (now.length >= before.length && !now.some((pid) => before.includes(pid))) return;
        if (Date.now() > deadline) throw new Error('nginx did not finish reloading in 15 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/** A process's children, from /proc (empty once it has exited). */
async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(' ').filter(Boolean).map(Number);
}
