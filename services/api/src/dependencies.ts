import { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { createAccounts } from '@chat/shared/auth/accounts';
import { createAuthenticator } from '@chat/shared/auth/authenticator';
import { createPasswordHasher } from '@chat/shared/auth/passwords';
import { createRevocationList } from '@chat/shared/auth/revocation';
import { createTokenService } from '@chat/shared/auth/tokens';
import { createMessageService } from '@chat/shared/chat/messages';
import { createRoomService } from '@chat/shared/chat/rooms';
import { createUserDirectory } from '@chat/shared/chat/users';
import type { ApiConfig } from '@chat/shared/config/api';
import { createDatabase } from '@chat/shared/db/database';
import type { DB } from '@chat/shared/db/schema';
import { createEventPublisher } from '@chat/shared/events/publisher';
import { createHealthCheck } from '@chat/shared/health';
import type { Logger } from '@chat/shared/logger';
import { createPresenceReader } from '@chat/shared/presence/reader';
import type { AppDeps } from './app.ts';

export interface Resources {
  db: Kysely<DB>;
  redis: Redis;
}

export function openResources(config: ApiConfig): Resources {
  return {
    db: createDatabase(config.database),
    // Fail commands fast while Redis is away instead of queueing them for
    // minutes; health turns 503 and requests get a clean error.
    redis: new Redis(config.redis.url, { maxRetriesPerRequest: 2, enableAutoPipelining: true }),
  };
}

export async function closeResources(resources: Resources): Promise<void> {
  await resources.db.destroy();
  resources.redis.disconnect();
}

/** Wires the use cases from config and open connections; main and the tests share it. */
export function buildAppDeps(config: ApiConfig, resources: Resources, logger: Logger): AppDeps {
  const { db, redis } = resources;
  const prefix = config.redis.prefix;
  const events = createEventPublisher(redis, prefix, logger);
  const tokens = createTokenService(config.jwt);
  const revocations = createRevocationList(redis, prefix);
  const presence = createPresenceReader(redis, prefix);
  return {
    logger,
    http: {
      corsOrigins: config.corsOrigins,
      bodyLimitBytes: config.bodyLimitBytes,
      secureCookies: config.environment === 'production',
    },
    auth: createAuthenticator(tokens, revocations),
    accounts: createAccounts({ db, passwords: createPasswordHasher(config.passwordHashing), tokens, revocations, events }),
    messages: createMessageService({ db, events, maxMessageLength: config.chat.maxMessageLength }),
    rooms: createRoomService({ db, events }),
    users: createUserDirectory({ db, presence }),
    health: createHealthCheck({ db, redis }),
  };
}
