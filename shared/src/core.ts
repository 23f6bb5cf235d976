import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { createAuthenticator } from './auth/authenticator.ts';
import { createRevocationList } from './auth/revocation.ts';
import { createTokenService } from './auth/tokens.ts';
import { createAudience } from './chat/audience.ts';
import { createCursorCodec } from './chat/cursor.ts';
import { createFeed } from './chat/feed.ts';
import { createLogNumbering } from './chat/numbering.ts';
import { createMessageService } from './chat/messages.ts';
import type { CommonConfig } from './config/common.ts';
import type { DB } from './db/schema.ts';
import { createEventPublisher } from './events/publisher.ts';
import type { Logger } from './logger.ts';

/**
 * The pieces every service wires the same way: token checks, the one
 * message write path, who hears what and the log that resume reads. Built
 * once per process from its config and connections.
 */
export function createChatCore(config: CommonConfig, conn: { db: Kysely<DB>; redis: Redis }, logger: Logger) {
  const events = createEventPublisher(conn.redis, config.redis.prefix, logger);
  const tokens = createTokenService(config.jwt);
  const numbering = createLogNumbering({ db: conn.db, events });
  const revocations = createRevocationList(conn.redis, config.redis.prefix);
  return {
    events,
    tokens,
    revocations,
    auth: createAuthenticator(tokens, revocations),
    audience: createAudience({ db: conn.db }),
    feed: createFeed({ db: conn.db, cursors: createCursorCodec(config.jwt.secret), numbering }),
    messages: createMessageService({ db: conn.db, numbering, maxMessageLength: config.chat.maxMessageLength, logger }),
  };
}
