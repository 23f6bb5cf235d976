import { fork, type ChildProcess } from 'node:child_process';

// A child Node process (a bare server or a client) driven over IPC: the bench
// keeps servers and load generators out of its own process, so their memory
// and CPU can be measured apart and they do not share one event loop.

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

export interface Worker {
  readonly pid: number;
  /** What the child sent first, with `ready: true` (e.g. its port). */
  readonly hello: Record<string, unknown>;
  call<T>(request: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** SIGTERM, SIGKILL after a grace period; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every worker still running (on Ctrl-C or a failure), and every process given to `track`. */
export function killAllWorkers(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** A child the bench started some other way (a service of the project, no IPC): killAllWorkers ends it too while it runs. */
export function track(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  running.add(child);
  child.once('exit', () => running.delete(child));
}

export async function startWorker(file: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<Worker> {
  const child = fork(file, args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
    child.on('message', (raw) => {
      const msg = raw as Record<string, unknown>;
      if (msg.ready === true) return resolve(msg);
      const reply = msg as unknown as Reply;
      const waiter = pending.get(reply.id);
      if (!waiter) return;
      pending.delete(reply.id);
      if (reply.error !== undefined) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
    });
  });
  void exited.then(() => {
    for (const w of pending.values()) w.reject(new Error(`${file} exited`));
    pending.clear();
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid as number,
    hello,
    call<T>(request: Record<string, unknown>, timeoutMs = 600_000) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${file}: no answer to ${String(request.cmd)} in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ ...request, id });
      });
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(killer);
        }
      })();
      return stopping;
    },
  };
}

/** The child's side: announce readiness, then answer each request with `handle`. */
export function serveWorker(hello: Record<string, unknown>, handle: (request: Record<string, unknown>) => Promise<unknown>): void {
  const send = (msg: unknown) => process.send?.(msg);
  process.on('message', (raw) => {
    const request = raw as Record<string, unknown> & { id: number };
    handle(request).then(
      (result) => send({ id: request.id, result }),
      (error: unknown) => send({ id: request.id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The parent went away (crashed or killed): do not outlive it.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  send({ ready: true, ...hello });
}
