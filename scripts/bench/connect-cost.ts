import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
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

// The gateway's own CPU per connect and per disconnect, measured exactly: one
// gateway in this process (logging at info to /dev/null, metrics on), a child
// that opens N connections of one kind and holds them, process.cpuUsage()
// around each phase, several rounds. The `door` and `idle` sections measure
// the same through /proc among every other process; this tells a change of a
// few dozen microseconds per connect from noise. With --cpu-prof, the profile
// shows where a connect's time goes.
//
//   node [--cpu-prof] scripts/bench/connect-cost.ts <ws|sio> [connections] [users] [rounds]

const [kind = 'ws', count = '2000', userCount = '200', roundCount = '5'] = process.argv.slice(2);
if ((kind !== 'ws' && kind !== 'sio') || ![count, userCount, roundCount].every((x) => Number.isInteger(Number(x)))) {
  console.error('usage: node scripts/bench/connect-cost.ts <ws|sio> [connections] [users] [rounds]');
  process.exit(2);
}
const n = Number(count);

const database = await createTestDatabase({ adminUrl: ADMIN_URL, prefix: 'chat_connect_cost', migrate: true });
const prefix = `connect-cost:${randomBytes(4).toString('hex')}:`;
const config = loadGatewayConfig({
  ENVIRONMENT: 'test',
  DATABASE_URL: database.url,
  REDIS_URL,
  REDIS_PREFIX: prefix,
  JWT_SECRET,
  LOG_LEVEL: 'info',
  PORT: '0',
  CONNECT_USER_LIMIT: '0',
  HANDSHAKE_ADDRESS_LIMIT: '0',
});
const tokens = (await createUsers(database.url, Number(userCount), 'cost')).map((u) => u.token);

// As in production, every connect and disconnect is logged, here to nowhere.
const devNull = await open('/dev/null', 'w');
const logger = createLogger({ level: 'info', service: 'gateway', destination: devNull.createWriteStream() });
const conn = openConnections(config, logger, () => {});
const metrics = createMetrics({ service: 'gateway', enabled: true });
const core = createChatCore(config, conn, logger, { metrics });
const gateway = createGateway({ config, logger, ...core, redis: conn.redis, health: createHealthCheck(conn), metrics });
const port = await gateway.listen({ host: '127.0.0.1', port: 0 });

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

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A first round warms up what is compiled or cached lazily.
(await hold(200)).kill();
await sleep(1_000);
const rounds: { connectUs: number; disconnectUs: number }[] = [];
for (let r = 0; r < Number(roundCount); r++) {
  const start = process.cpuUsage();
  const clients = await hold(n);
  const opened = process.cpuUsage(start);
  const closing = process.cpuUsage();
  clients.kill('SIGKILL');
  // Until every disconnect was handled: the gateway's own gauge is back to 0.
  for (;;) {
    await sleep(100);
    const text = await metrics.registry.getSingleMetricAsString('chat_socket_connections');
    if (!/} [1-9]/.test(text)) break;
  }
  const closed = process.cpuUsage(closing);
  rounds.push({ connectUs: (cpuMs(opened) * 1000) / n, disconnectUs: (cpuMs(closed) * 1000) / n });
  await sleep(500);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(
  JSON.stringify({
    kind,
    connections: n,
    users: Number(userCount),
    connectUsMedian: Math.round(median(rounds.map((r) => r.connectUs))),
    disconnectUsMedian: Math.round(median(rounds.map((r) => r.disconnectUs))),
    rounds: rounds.map((r) => ({ connectUs: Math.round(r.connectUs), disconnectUs: Math.round(r.disconnectUs) })),
  }),
);

await gateway.close();
await closeConnections(conn);
await devNull.close();
await Promise.all([database.drop(), deletePrefix(prefix, REDIS_URL)]);
