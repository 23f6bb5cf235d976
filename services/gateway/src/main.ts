import { loadGatewayConfig } from '@chat/shared/config/gateway';
import { loadOrExit } from '@chat/shared/config/env';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { stopOnSignal } from '@chat/shared/shutdown';
import { createGateway } from './gateway.ts';

const config = loadOrExit(() => loadGatewayConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'gateway' }).child({ gatewayId: config.gatewayId });
const conn = openConnections(config);
conn.redis.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
const { auth, messages } = createChatCore(config, conn, logger);
const gateway = createGateway({ config, logger, auth, messages, db: conn.db, redis: conn.redis, health: createHealthCheck(conn) });
const port = await gateway.listen(config);
logger.info({ port, environment: config.environment }, 'gateway listening');

stopOnSignal(logger, 10_000, async () => {
  await gateway.close();
  await closeConnections(conn);
});
