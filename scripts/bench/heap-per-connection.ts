import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadGatewayConfig } from '@chat/shared/config';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { createMetrics } from '@chat/shared/metrics';
import { createTestDatabase, deletePrefix } from '@chat/shared/testing';
import { createGateway } from '../../services/gateway/src/gateway.ts';
import { ADMIN_URL, JWT_SECRET, REDIS_URL } from './cluster.ts';
import { createUsers } from './users.ts';

// The gateway's heap per idle connection, measured exactly: forced GCs before
// and after N connections of one kind that a child process opens and holds.
// The bench's idle section reads a running cluster's heap gauge, GC whenever;
// this tells a change of a few dozen bytes per connection from noise.
//
//   node --expose-gc scripts/bench/heap-per-connection.ts <ws|sio> [connections]

const [kind = 'sio', count = '3000'] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if ((kind !== 'ws' && kind !== 'sio') || !Number.isInteger(Number(count)) || !gc) {
  console.error('usage: node --expose-gc scripts/bench/heap-per-connection.ts <ws|sio> [connections]');
  process.exit(2);
}
const n = Number(count);

const database = await createTestDatabase({ adminUrl: ADMIN_URL, prefix: 'chat_heap_probe', migrate: true });
const prefix = `heap-probe:${randomBytes(4).toString('hex')}:`;
const config = loadGatewayConfig({
  ENVIRONMENT: 'test',
  DATABASE_URL: database.url,
  REDIS_URL,
  REDIS_PREFIX: prefix,
  JWT_SECRET,
  LOG_LEVEL: 'silent',
  PORT: '0',
  CONNECT_USER_LIMIT: '0',
  HANDSHAKE_ADDRESS_LIMIT: '0',
  METRICS_ENABLED: 'false',
});
const tokens = (await createUsers(database.url, 50, 'heap')).map((u) => u.token);

const logger = createLogger({ level: 'silent', service: 'gateway' });
const conn = openConnections(config, logger, () => {});
const core = createChatCore(config, conn, logger);
const deps = {
  config,
  logger,
  ...core,
  redis: conn.redis,
  health: createHealthCheck(conn),
  metrics: createMetrics({ service: 'gateway', enabled: false }),
};
const gateway = createGateway(deps);
const port = await gateway.listen({ host: '127.0.0.1', port: 0 });

/** Heap in use once garbage is gone: several collections, with turns of the event loop between. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return process.memoryUsage().heapUsed;
}

async function hold(connections: number): Promise<ChildProcess> {
  const child = fork(path.join(import.meta.dirname, 'clients/hold-connections.ts'), [
    kind,
    String(port),
    String(connections),
    JSON.stringify(tokens),
  ]);
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  return child;
}

// A first round warms up what is compiled or cached lazily, so it is not counted per connection.
(await hold(200)).kill();
await new Promise((resolve) => setTimeout(resolve, 1_000));
const before = await settledHeap();
const clients = await hold(n);
const after = await settledHeap();
console.log(JSON.stringify({ kind, connections: n, heapPerConnectionBytes: Math.round((after - before) / n) }));

clients.kill();
await gateway.close();
await closeConnections(conn);
await Promise.all([database.drop(), deletePrefix(prefix, REDIS_URL)]);
