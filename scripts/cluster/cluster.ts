import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** The load balancer's port: nginx.conf's `listen`, the one origin clients use. */
export const LB_PORT = 8080;

export interface ClusterSpec {
  /** The repository root (holds nginx.conf, web/, services/). */
  root: string;
  nginxBin: string;
  apiPorts: number[];
  gatewayPorts: number[];
  /** Passed to every service on top of this process's environment. */
  serviceEnv: Record<string, string>;
  /** Receives each line a child prints, with the child's name. */
  output: (name: string, line: string) => void;
}

export interface RunningCluster {
  url: string;
  names: string[];
  /** Resolves with a child's name if one exits while the cluster is meant to be up. */
  failed: Promise<string>;
  /** Sends `signal` to one child and resolves with its exit code. */
  stopOne(name: string, signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM to every child, SIGKILL to any still running after the grace period. */
  stop(): Promise<void>;
}

const GRACE_MS = 12_000;

function run(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, spec: ClusterSpec, group = false): ChildProcess {
  const child = spawn(command, args, { cwd: spec.root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: group });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => spec.output(name, line));
  }
  return child;
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

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
 * migrations, then API and gateway replicas and nginx with the repository's
 * own nginx.conf, whose upstream lists this writes into a private prefix
 * directory.
 */
export async function startCluster(spec: ClusterSpec): Promise<RunningCluster> {
  const env = { ...process.env, ...spec.serviceEnv };
  const node = process.execPath;

  const migrate = run('migrate', node, ['shared/src/db/migrate-cli.ts'], env, spec);
  const migrated = await exitOf(migrate);
  if (migrated !== 0) throw new Error(`migrations failed (exit ${migrated})`);

  // nginx resolves includes against the directory of the config file it opened
  // and everything else against -p, so both point at this prefix.
  const prefix = await mkdtemp(path.join(tmpdir(), 'chat-cluster-'));
  // mkdtemp makes it 0700; nginx started as root serves files from worker
  // processes running as an unprivileged user, which must be able to enter it.
  await chmod(prefix, 0o755);
  await mkdir(path.join(prefix, 'upstreams'));
  await symlink(path.join(spec.root, 'nginx.conf'), path.join(prefix, 'nginx.conf'));
  await symlink(path.join(spec.root, 'web'), path.join(prefix, 'web'));
  const servers = (ports: number[]) => ports.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;\n`).join('');
  await writeFile(path.join(prefix, 'upstreams', 'api.conf'), servers(spec.apiPorts));
  await writeFile(path.join(prefix, 'upstreams', 'gateway.conf'), servers(spec.gatewayPorts));

  const children = new Map<string, ChildProcess>();
  spec.apiPorts.forEach((port, i) => {
    children.set(`api-${i + 1}`, run(`api-${i + 1}`, node, ['services/api/src/main.ts'], { ...env, PORT: String(port) }, spec));
  });
  spec.gatewayPorts.forEach((port, i) => {
    const name = `gateway-${i + 1}`;
    children.set(name, run(name, node, ['services/gateway/src/main.ts'], { ...env, PORT: String(port), GATEWAY_ID: name }, spec));
  });
  // nginx.conf logs to /dev/stdout, which cannot be opened on the socketpair Node
  // gives a child for stdio; a shell pipe gives nginx a real one. nginx and the
  // shell share a process group of their own, and signals go to the whole group.
  const nginxArgs = ['-e', 'stderr', '-p', `${prefix}/`, '-c', 'nginx.conf', '-g', 'daemon off;'];
  children.set('nginx', run('nginx', '/bin/sh', ['-c', '"$0" "$@" | cat', spec.nginxBin, ...nginxArgs], env, spec, true));
  const grouped = new Set(['nginx']);

  let stopping = false;
  const expectedExits = new Set<string>();
  const failed = new Promise<string>((resolve) => {
    for (const [name, child] of children) {
      void exitOf(child).then(() => {
        if (!stopping && !expectedExits.has(name)) resolve(name);
      });
    }
  });

  async function stopChild(name: string, signal: NodeJS.Signals): Promise<number | null> {
    const child = children.get(name);
    if (!child) throw new Error(`no process named ${name}`);
    expectedExits.add(name);
    const send = (sig: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (grouped.has(name) && child.pid !== undefined) process.kill(-child.pid, sig);
      else child.kill(sig);
    };
    send(signal);
    const timer = setTimeout(() => send('SIGKILL'), GRACE_MS);
    const code = await exitOf(child);
    clearTimeout(timer);
    return code;
  }

  const stop = async () => {
    stopping = true;
    await Promise.all([...children.keys()].map((name) => stopChild(name, 'SIGTERM')));
    await rm(prefix, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    // Replicas first: asking nginx earlier only fills its log with refused connections.
    const ready = Promise.all(
      [...spec.apiPorts, ...spec.gatewayPorts].map((p) => waitHealthy(`http://127.0.0.1:${p}/health`, deadline)),
    ).then(() => waitHealthy(`http://127.0.0.1:${LB_PORT}/health`, deadline));
    const died = failed.then((name) => {
      throw new Error(`${name} exited during start-up`);
    });
    await Promise.race([ready, died]);
  } catch (error) {
    await stop();
    throw error;
  }

  return { url: `http://127.0.0.1:${LB_PORT}`, names: [...children.keys()], failed, stopOne: stopChild, stop };
}
