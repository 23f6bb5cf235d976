import { loadGatewayConfig, loadOrExit } from '@chat/shared/config';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { stopOnSignal } from '@chat/shared/shutdown';
import { createGateway } from './gateway.ts';

const config = loadOrExit(() => loadGatewayConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'gateway' }).child({ gatewayId: config.gatewayId });
const conn = openConnections(config, logger);
conn.redis.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
const { auth, messages, audience, feed } = createChatCore(config, conn, logger);
const health = createHealthCheck({ ...conn, timeoutMs: config.healthTimeoutMs });
const gateway = createGateway({ config, logger, auth, messages, audience, feed, redis: conn.redis, health });
const port = await gateway.listen(config);
logger.info({ port, environment: config.environment }, 'gateway listening');

stopOnSignal(logger, config.shutdownTimeoutMs, async () => {
  await gateway.close();
  await closeConnections(conn);
});
