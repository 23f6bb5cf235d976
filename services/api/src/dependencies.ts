import { createAccounts, createPasswordHasher } from '@chat/shared/auth';
import { createRoomService, createUploadService, createUserDirectory } from '@chat/shared/chat';
import type { ApiConfig } from '@chat/shared/config';
import type { Connections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import type { EventPublisherOptions } from '@chat/shared/events';
import { createHealthCheck } from '@chat/shared/health';
import { createLimiter, createProxyTrust } from '@chat/shared/limits';
import type { Logger } from '@chat/shared/logger';
import { createMetrics, type Metrics } from '@chat/shared/metrics';
import { createPresenceReader } from '@chat/shared/presence';
import { createPushSubscriptions, createTargetGuard, createWebhookService } from '@chat/shared/integrations';
import type { AppDeps } from './app.ts';
import { WEB_ROOT } from './routes/page/routes.ts';

export type Resources = Connections;

/**
 * Wires the use cases from config and open connections; main and the tests share it.
 * Without `metrics` the app reports into a fresh registry of its own (no globals).
 * `wrapRouter` lets the tests see every event the app routes (services/api/test/events.ts).
 */
export function buildAppDeps(
  config: ApiConfig,
  resources: Resources,
  logger: Logger,
  metrics: Metrics = createMetrics({ service: 'api' }),
  wrapRouter?: EventPublisherOptions['wrapRouter'],
): AppDeps {
  const { db, redis } = resources;
  const { events, tokens, revocations, auth, accessTokens, messages, conversations, store } = createChatCore(config, resources, logger, {
    metrics,
    wrapRouter,
  });
  const presence = createPresenceReader(redis, config.redis.prefix);
  // Login and registration fail closed (503) while Redis is away: unlimited password
  // guessing is not an acceptable way to stay available.
  const limit = (name: string, limit: ApiConfig['registerLimit'], message: string) =>
    createLimiter(redis, { prefix: config.redis.prefix, name, limit, whenRedisFails: 'refuse', message, logger });
  const limits = {
    loginPerAccount: limit('login:account', config.loginLimits.perAccount, 'too many login attempts; try again later'),
    loginPerAddress: limit('login:address', config.loginLimits.perAddress, 'too many login attempts; try again later'),
    registerPerAddress: limit('register:address', config.registerLimit, 'too many registrations; try again later'),
  };
  const guard = createTargetGuard(config.integrations.allowedTargets);
  return {
    logger,
    http: {
      corsOrigins: config.corsOrigins,
      bodyLimitBytes: config.bodyLimitBytes,
      secureCookies: config.environment === 'production',
      proxyTrust: createProxyTrust(config.trustedProxies),
    },
    auth,
    accessTokens,
    accounts: createAccounts({
      db,
      passwords: createPasswordHasher({
        ...config.passwordHashing,
        observer: {
          queueDepth: (waiting) => metrics.passwordHashQueueDepth.set(waiting),
          refused: () => metrics.passwordHashRefusals.inc(),
        },
      }),
      tokens,
      revocations,
      events,
      limits,
    }),
    webhooks: createWebhookService({
      db,
      guard,
      maxPerUser: config.webhooks.maxPerUser,
      createLimit: createLimiter(redis, {
        prefix: config.redis.prefix,
        name: 'webhooks:user',
        limit: config.webhooks.createLimit,
        whenRedisFails: 'allow',
        message: 'too many webhooks created; try again later',
        logger,
      }),
    }),
    push: createPushSubscriptions({ db, guard, vapidPublicKey: config.integrations.vapidPublicKey }),
    messages,
    conversations,
    uploads: createUploadService({ db, store, limits: config.uploads, logger, metrics }),
    uploadLimits: config.uploads,
    rooms: createRoomService({ db, events, limits: config.roomLimits }),
    users: createUserDirectory({ db, presence }),
    health: createHealthCheck({ db, redis, timeoutMs: config.healthTimeoutMs }),
    metrics,
    draining: () => false,
    webRoot: WEB_ROOT,
  };
}
