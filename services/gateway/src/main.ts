import { loadGatewayConfig } from '@chat/shared/config/gateway';
import { loadOrExit } from '@chat/shared/config/env';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { createGateway } from './gateway.ts';

const config = loadOrExit(() => loadGatewayConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'gateway' }).child({ gatewayId: config.gatewayId });
const conn = openConnections(config);
conn.redis.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
const { auth, messages } = createChatCore(config, conn, logger);
const gateway = createGateway({ config, logger, auth, messages, db: conn.db, redis: conn.redis, health: createHealthCheck(conn) });
const port = await gateway.listen(config);
logger.info({ port, environment: config.environment }, 'gateway listening');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    logger.error('shutdown timed out');
    process.exit(1);
  }, 10_000);
  force.unref();
  await gateway.close();
  await closeConnections(conn);
  logger.info('stopped');
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}
