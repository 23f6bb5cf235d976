import { createAccounts, createPasswordHasher } from '@chat/shared/auth';
import { createRoomService, createUserDirectory } from '@chat/shared/chat';
import type { ApiConfig } from '@chat/shared/config';
import type { Connections } from '@chat/shared/connections';
import { createChatCore } from '@chat/shared/core';
import { createHealthCheck } from '@chat/shared/health';
import type { Logger } from '@chat/shared/logger';
import { createPresenceReader } from '@chat/shared/presence';
import type { AppDeps } from './app.ts';

export type Resources = Connections;

/** Wires the use cases from config and open connections; main and the tests share it. */
export function buildAppDeps(config: ApiConfig, resources: Resources, logger: Logger): AppDeps {
  const { db, redis } = resources;
  const { events, tokens, revocations, auth, messages } = createChatCore(config, resources, logger);
  const presence = createPresenceReader(redis, config.redis.prefix);
  return {
    logger,
    http: {
      corsOrigins: config.corsOrigins,
      bodyLimitBytes: config.bodyLimitBytes,
      secureCookies: config.environment === 'production',
    },
    auth,
    accounts: createAccounts({ db, passwords: createPasswordHasher(config.passwordHashing), tokens, revocations, events }),
    messages,
    rooms: createRoomService({ db, events }),
    users: createUserDirectory({ db, presence }),
    health: createHealthCheck({ db, redis, timeoutMs: config.healthTimeoutMs }),
  };
}
