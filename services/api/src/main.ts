import { loadApiConfig } from '@chat/shared/config/api';
import { ConfigError } from '@chat/shared/config/env';
import { createLogger } from '@chat/shared/logger';
import { createApp } from './app.ts';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { buildAppDeps } from './dependencies.ts';
import { listen } from './server.ts';

let config;
try {
  config = loadApiConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

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
  }, 10_000);
  force.unref();
  await server.close();
  await closeConnections(resources);
  logger.info('stopped');
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}
