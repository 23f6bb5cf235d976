import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { loadGatewayConfig } from '@chat/shared/config';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, type Metrics } from '@chat/shared/metrics';
import { createTestDatabase, deletePrefix } from '@chat/shared/testing';
import { createGateway } from '../../services/gateway/src/gateway.ts';
import { ADMIN_URL, JWT_SECRET, REDIS_URL } from './cluster.ts';
import { createUsers } from './users.ts';

// One gateway in the probing process (heap-per-connection.ts, connect-cost.ts),
// on a database and Redis prefix of its own, and a child that opens N
// connections to it and holds them (clients/hold-connections.ts).

export interface ProbeGateway {
  port: number;
  metrics: Metrics;
  /** Opens `connections` of `kind` from a child process; resolves once all are greeted. Kill the child to close them. */
  hold(kind: 'ws' | 'sio', connections: number): Promise<ChildProcess>;
  stop(): Promise<void>;
}

export async function startProbeGateway(opts: {
  label: string;
  users: number;
  /** `silent`, or `info` to pay for the connect and disconnect lines as production does (written to /dev/null). */
  logLevel: 'silent' | 'info';
  metrics: boolean;
}): Promise<ProbeGateway> {
  const database = await createTestDatabase({ adminUrl: ADMIN_URL, prefix: `chat_${opts.label}`, migrate: true });
  const prefix = `${opts.label}:${randomBytes(4).toString('hex')}:`;
  const config = loadGatewayConfig({
    ENVIRONMENT: 'test',
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    JWT_SECRET,
    LOG_LEVEL: opts.logLevel,
    PORT: '0',
    CONNECT_USER_LIMIT: '0',
    HANDSHAKE_ADDRESS_LIMIT: '0',
    METRICS_ENABLED: String(opts.metrics),
  });
  const tokens = (await createUsers(database.url, opts.users, opts.label)).map((u) => u.token);
  const devNull = await open('/dev/null', 'w');
  const logger = createLogger({ level: opts.logLevel, service: 'gateway', destination: devNull.createWriteStream() });
  const conn = openConnections(config, logger, () => {});
  const metrics = createMetrics({ service: 'gateway', enabled: opts.metrics });
  const core = opts.metrics ? createChatCore(config, conn, logger, { metrics }) : createChatCore(config, conn, logger);
  const gateway = createGateway({ config, logger, ...core, redis: conn.redis, health: createHealthCheck(conn), metrics });
  const port = await gateway.listen({ host: '127.0.0.1', port: 0 });
  return {
    port,
    metrics,
    async hold(kind, connections) {
      const child = fork(path.join(import.meta.dirname, 'clients/hold-connections.ts'), [
        kind,
        String(port),
        String(connections),
        JSON.stringify(tokens),
      ]);
      await new Promise<void>((resolve) => child.once('message', () => resolve()));
      return child;
    },
    async stop() {
      await gateway.close();
      await closeConnections(conn);
      await devNull.close();
      await Promise.all([database.drop(), deletePrefix(prefix, REDIS_URL)]);
    },
  };
}
