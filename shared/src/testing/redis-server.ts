import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';

/** A Redis of the test's own, for tests that need it to die or hang: never the shared one. */
export interface RedisServer {
  url: string;
  port: number;
  /** SIGKILL: connections are reset and new ones refused. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers. */
  pause(): void;
  resume(): void;
  /** Ends it whatever state it is in; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts one on a free port, or on `port` (to bring a killed one back where its clients look for it). */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  await untilAnswering(url);

  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    port,
    kill,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: kill,
  };
}

async function untilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused until the server listens: expected, and reported through connect() below.
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}
