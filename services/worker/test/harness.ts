import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadWorkerConfig, type WorkerConfig } from '@chat/shared/config';
import { closeConnections, openConnections, type Connections } from '@chat/shared/connections';
import { createHealthCheck } from '@chat/shared/health';
import type { Lookup } from '@chat/shared/integrations';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, type Metrics } from '@chat/shared/metrics';
import { createPresenceReader } from '@chat/shared/presence';
import { testEnv } from '../../api/test/harness.ts';
import { createWorker, type Worker } from '../src/worker.ts';

export interface TestWorker {
  url: string;
  config: WorkerConfig;
  metrics: Metrics;
  conn: Connections;
  worker: Worker;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Quick clocks for tests; `env` adds or overrides. */
const QUICK: Record<string, string> = {
  WEBHOOK_POLL_INTERVAL: '50ms',
  WEBHOOK_RETRY_BASE: '50ms',
  WEBHOOK_RETRY_MAX: '200ms',
  WEBHOOK_TIMEOUT: '2s',
  WEBHOOK_LEASE: '5s',
  WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8',
};

/** The real worker against this run's database and the API's Redis prefix (pass the API's `REDIS_PREFIX`). */
export async function startWorker(env: Record<string, string>, opts: { lookup?: Lookup } = {}): Promise<TestWorker> {
  const config = loadWorkerConfig(testEnv({ ...QUICK, ...env }));
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: config.logLevel, service: 'worker', destination });
  const metrics = createMetrics({ service: 'worker' });
  const conn = openConnections(config, logger);
  const worker = createWorker({
    config,
    db: conn.db,
    presence: createPresenceReader(conn.redis, config.redis.prefix),
    health: createHealthCheck(conn),
    logger,
    metrics,
    lookup: opts.lookup,
  });
  const port = await worker.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    metrics,
    conn,
    worker,
    logs,
    async close() {
      await worker.close();
      await closeConnections(conn);
    },
  };
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

interface Answer {
  status: number;
  location?: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** How the next requests are answered: a status, optionally a Location; whenever the promise says. */
  answer: (req: Received) => Answer | Promise<Answer>;
  close(): Promise<void>;
}

/** An HTTP endpoint on loopback that records every request. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const receiver: Receiver = {
    url: '',
    received,
    answer: () => ({ status: 204 }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = { path: req.url ?? '', headers: req.headers, body, text: body.toString('utf8') };
      received.push(entry);
      void Promise.resolve(receiver.answer(entry)).then(({ status, location }) => res.writeHead(status, location ? { location } : {}).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
