import { loadGatewayConfig, loadOrExit } from '@chat/shared/config';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, startMetricsServer } from '@chat/shared/metrics';
import { stopOnSignal } from '@chat/shared/shutdown';
import { createGateway } from './gateway.ts';

const config = loadOrExit(() => loadGatewayConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'gateway' }).child({ gatewayId: config.gatewayId });
const metrics = createMetrics({ service: 'gateway', enabled: config.metrics.enabled });
const conn = openConnections(config, logger, () => metrics.dependencyErrors.inc({ dependency: 'postgres' }));
conn.redis.on('error', (err: Error) => {
  metrics.dependencyErrors.inc({ dependency: 'redis' });
  logger.warn({ err }, 'redis connection error');
});
const { auth, messages, conversations, audience, feed } = createChatCore(config, conn, logger, { metrics });
const health = createHealthCheck({ ...conn, timeoutMs: config.healthTimeoutMs });
const gateway = createGateway({ config, logger, auth, messages, conversations, audience, feed, redis: conn.redis, health, metrics });
const port = await gateway.listen(config);
logger.info({ port, environment: config.environment }, 'gateway listening');
// Its own port, which nginx does not publish: only the scraper reaches it.
const metricsServer = config.metrics.enabled ? await startMetricsServer(metrics.registry, config.metrics) : undefined;
logger.info({ port: metricsServer?.port ?? 'off' }, 'metrics listening');

stopOnSignal(logger, config.shutdownTimeoutMs, async () => {
  await gateway.close();
  await metricsServer?.close();
  await closeConnections(conn);
});
