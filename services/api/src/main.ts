import { startUploadSweep } from '@chat/shared/chat';
import { loadApiConfig, loadOrExit } from '@chat/shared/config';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, startMetricsServer } from '@chat/shared/metrics';
import { stopOnSignal } from '@chat/shared/shutdown';
import { createApp } from './app.ts';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { buildAppDeps } from './dependencies.ts';
import { listen } from './server.ts';

const config = loadOrExit(() => loadApiConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'api' });
const metrics = createMetrics({ service: 'api', enabled: config.metrics.enabled });
const resources = openConnections(config, logger, () => metrics.dependencyErrors.inc({ dependency: 'postgres' }));
resources.redis.on('error', (err: Error) => {
  metrics.dependencyErrors.inc({ dependency: 'redis' });
  logger.warn({ err }, 'redis connection error');
});
let draining = false;
const deps = buildAppDeps(config, resources, logger, metrics);
const server = await listen(createApp({ ...deps, draining: () => draining }), config);
// Uploads never attached, and the bytes of deleted ones, go in the background.
const sweep = startUploadSweep(deps.uploads, config.uploads.sweepIntervalMs, logger);
logger.info({ port: server.port, environment: config.environment }, 'api listening');
// Its own port, which nginx does not publish: only the scraper reaches it.
const metricsServer = config.metrics.enabled ? await startMetricsServer(metrics.registry, config.metrics) : undefined;
logger.info({ port: metricsServer?.port ?? 'off' }, 'metrics listening');

stopOnSignal(logger, config.shutdownDrainMs + config.shutdownTimeoutMs, async () => {
  draining = true;
  await sweep.stop();
  await server.close(config.shutdownDrainMs);
  await metricsServer?.close();
  await closeConnections(resources);
});
