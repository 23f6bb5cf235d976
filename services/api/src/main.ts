import { loadApiConfig, loadOrExit } from '@chat/shared/config';
import { createLogger } from '@chat/shared/logger';
import { stopOnSignal } from '@chat/shared/shutdown';
import { createApp } from './app.ts';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { buildAppDeps } from './dependencies.ts';
import { listen } from './server.ts';

const config = loadOrExit(() => loadApiConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'api' });
const resources = openConnections(config, logger);
resources.redis.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
const server = await listen(createApp(buildAppDeps(config, resources, logger)), config);
logger.info({ port: server.port, environment: config.environment }, 'api listening');

stopOnSignal(logger, config.shutdownDrainMs + config.shutdownTimeoutMs, async () => {
  await server.close(config.shutdownDrainMs);
  await closeConnections(resources);
});
