import type { Kysely } from 'kysely';
import { createAccessTokens } from './auth/access-tokens.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { createRevocationList } from './auth/revocation.ts';
import { createTokenService } from './auth/tokens.ts';
import { createAudience } from './chat/audience.ts';
import { createFilePurge } from './chat/uploads.ts';
import { createBlobStore } from './storage/index.ts';
import { createConversationService, TYPING_INTERVAL_MS } from './chat/conversations.ts';
import { createCursorCodec } from './chat/cursor.ts';
import { createFeed } from './chat/feed.ts';
import { createLogNumbering } from './chat/numbering.ts';
import { createMessageService } from './chat/messages.ts';
import type { CommonConfig } from './config/common.ts';
import type { DB } from './db/schema.ts';
import { createEventPublisher, type EventPublisherOptions } from './events/publisher.ts';
import { createLimiter } from './limits/rate-limits.ts';
import { createThrottle } from './limits/throttle.ts';
import { createPresenceReader } from './presence/reader.ts';
import type { Logger } from './logger.ts';
import type { RedisClient } from './redis.ts';

/**
 * The pieces every service wires the same way: token checks, the one
 * message write path, who hears what and the log that resume reads. Built
 * once per process from its config and connections.
 */
export function createChatCore(
  config: CommonConfig,
  conn: { db: Kysely<DB>; redis: RedisClient },
  logger: Logger,
  /** For the event publisher: the metrics its router counts into, and the tests' view of what is routed. */
  publishing: EventPublisherOptions = {},
) {
  const events = createEventPublisher(conn.redis, config.redis.prefix, logger, publishing);
  const store = createBlobStore(config.storage, conn.db);
  const purgeFiles = createFilePurge({ db: conn.db, store, logger });
  const tokens = createTokenService(config.jwt);
  const numbering = createLogNumbering({ db: conn.db, events });
  // Fails open: a send already passed the fail-closed token check (REST) or
  // handshake, and socket sends are accepted while Redis is away (docs/architecture.md).
  const messageLimit = createLimiter(conn.redis, {
    prefix: config.redis.prefix,
    name: 'send:user',
    limit: config.messageRateLimit,
    whenRedisFails: 'allow',
    message: 'too many messages; slow down',
    logger,
  });
  const reactionLimit = createLimiter(conn.redis, {
    prefix: config.redis.prefix,
    name: 'react:user',
    limit: config.reactionRateLimit,
    whenRedisFails: 'allow',
    message: 'too many reactions; slow down',
    logger,
  });
  const perUser = (name: string, limit: CommonConfig['readRateLimit'], message: string) =>
    createLimiter(conn.redis, { prefix: config.redis.prefix, name, limit, whenRedisFails: 'allow', message, logger });
  const revocations = createRevocationList({
    redis: conn.redis,
    prefix: config.redis.prefix,
    db: conn.db,
    maxTokenLifetimeSeconds: Math.round(config.jwt.expiryHours * 3600),
    logger,
  });
  const accessTokens = createAccessTokens({
    db: conn.db,
    revocations,
    events,
    createLimit: perUser('tokens:user', config.tokenCreateLimit, 'too many tokens and bots created; try again later'),
  });
  return {
    events,
    tokens,
    revocations,
    auth: createAuthenticator(tokens, revocations, accessTokens),
    accessTokens,
    audience: createAudience({ db: conn.db }),
    feed: createFeed({ db: conn.db, cursors: createCursorCodec(config.jwt.secret), numbering }),
    messages: createMessageService({
      db: conn.db,
      numbering,
      maxMessageLength: config.chat.maxMessageLength,
      editWindowMs: config.chat.editWindowMs,
      maxDistinctReactions: config.chat.maxDistinctReactions,
      logger,
      rateLimit: messageLimit,
      reactionRateLimit: reactionLimit,
      filesDeleted: () => void purgeFiles().catch((error: unknown) => logger.warn({ err: error }, 'purging deleted files failed; the sweep will')),
    }),
    store,
    conversations: createConversationService({
      db: conn.db,
      events,
      presence: createPresenceReader(conn.redis, config.redis.prefix),
      receiptsMaxMembers: config.readReceiptsMaxMembers,
      readLimit: perUser('read:user', config.readRateLimit, 'too many read marks; slow down'),
      typingLimit: perUser('typing:user', config.typingRateLimit, 'too many typing signals; slow down'),
      typingThrottle: createThrottle(conn.redis, { prefix: config.redis.prefix, name: 'typing', intervalMs: TYPING_INTERVAL_MS, logger }),
    }),
  };
}
