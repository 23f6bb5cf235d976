import { loadOrExit, loadWorkerConfig } from '@chat/shared/config';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createHealthCheck } from '@chat/shared/health';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, startMetricsServer } from '@chat/shared/metrics';
import { createPresenceReader } from '@chat/shared/presence';
import { stopOnSignal } from '@chat/shared/shutdown';
import { createWorker } from './worker.ts';

const config = loadOrExit(() => loadWorkerConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'worker' }).child({ workerId: config.workerId });
const metrics = createMetrics({ service: 'worker', enabled: config.metrics.enabled });
const conn = openConnections(config, logger, () => metrics.dependencyErrors.inc({ dependency: 'postgres' }));
conn.redis.on('error', (err: Error) => {
  metrics.dependencyErrors.inc({ dependency: 'redis' });
  logger.warn({ err }, 'redis connection error');
});
const worker = createWorker({
  config,
  db: conn.db,
  presence: createPresenceReader(conn.redis, config.redis.prefix),
  health: createHealthCheck({ ...conn, timeoutMs: config.healthTimeoutMs }),
  logger,
  metrics,
});
const port = await worker.listen();
logger.info({ port, environment: config.environment }, 'worker listening');
const metricsServer = config.metrics.enabled ? await startMetricsServer(metrics.registry, config.metrics) : undefined;
logger.info({ port: metricsServer?.port ?? 'off' }, 'metrics listening');

stopOnSignal(logger, config.shutdownTimeoutMs, async () => {
  await worker.close();
  await metricsServer?.close();
  await closeConnections(conn);
});
