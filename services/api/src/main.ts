import { loadApiConfig } from '@chat/shared/config/api';
import { loadOrExit } from '@chat/shared/config/env';
import { createLogger } from '@chat/shared/logger';
import { createApp } from './app.ts';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { buildAppDeps } from './dependencies.ts';
import { listen } from './server.ts';

const config = loadOrExit(() => loadApiConfig(process.env));

const logger = createLogger({ level: config.logLevel, service: 'api' });
const resources = openConnections(config);
resources.redis.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
const server = await listen(createApp(buildAppDeps(config, resources, logger)), config);
logger.info({ port: server.port, environment: config.environment }, 'api listening');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    logger.error('shutdown timed out');
    process.exit(1);
  }, config.shutdownDrainMs + 10_000);
  force.unref();
  await server.close(config.shutdownDrainMs);
  await closeConnections(resources);
  logger.info('stopped');
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}
