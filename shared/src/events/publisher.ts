import type { Logger } from 'pino';
import type { Metrics } from '../metrics/index.ts';
import type { LoggedMessage } from '../model/message.ts';
import type { RedisClient } from '../redis.ts';
import { rooms } from './rooms.ts';
import { createRedisRouter } from './router/redis.ts';
import type { Router } from './router/types.ts';
import type {
  Delivery,
  EphemeralEventName,
  EphemeralPayload,
  InterServerEvents,
  MembershipChange,
  TokenRevocation,
  UserTokensRevocation,
} from './types.ts';

/** What the chat rules announce once a change is committed. */
export interface EventPublisher {
  messageCreated(logged: LoggedMessage): void;
  membershipChanged(change: MembershipChange): void;
  tokenRevoked(revocation: TokenRevocation): void;
  userTokensRevoked(revocation: UserTokensRevocation): void;
  /** An ephemeral event (never stored, never replayed) to the connections in `rooms`, now; best effort. */
  signal<E extends EphemeralEventName>(rooms: readonly string[], event: E, data: EphemeralPayload<E>): void;
}

/** The Socket.IO adapter's channel key for a deployment's Redis prefix. */
export const adapterKey = (prefix: string) => `${prefix}socket.io`;

/** Maps a committed message to its rooms and event name (docs/architecture.md#room-addressing). */
export function deliveryFor({ seq, kind, message, senderId, recipientId }: LoggedMessage): Delivery {
  // A change goes to exactly the audience of its message.
  const changed = kind === 'updated' ? 'message_updated' : kind === 'deleted' ? 'message_deleted' : undefined;
  if (message.room_id !== null) return { rooms: [rooms.room(message.room_id)], event: changed ?? 'message', seq, message };
  if (recipientId !== null) {
    return { rooms: [...new Set([rooms.user(recipientId), rooms.user(senderId)])], event: changed ?? 'direct_message', seq, message };
  }
  return { rooms: [rooms.global], event: changed ?? 'message', seq, message };
}

export interface EventPublisherOptions {
  /** The router counts what became of every message it routes (`chat_route_outcomes_total`). */
  metrics?: Pick<Metrics, 'routeOutcomes'>;
  /** Wraps the router the events go through: the API tests record what is routed (services/api/test/events.ts). */
  wrapRouter?: (router: Router) => Router;
}

/**
 * Routes every event to the gateways of its rooms (router/): messages in
 * log order, membership changes and revocations to the gateways that hold the
 * user. Publishing is fire-and-forget: the change is already committed, and a
 * Redis outage must delay delivery, not fail the request or crash. A message
 * whose routing failed is routed from the log by the gateways' watchdog; the
 * gateways read what they missed from the log.
 */
export function createEventPublisher(redis: RedisClient, prefix: string, logger: Logger, opts: EventPublisherOptions = {}): EventPublisher {
  const redisRouter = createRedisRouter(redis, prefix, { metrics: opts.metrics, logger });
  const router = opts.wrapRouter?.(redisRouter) ?? redisRouter;
  const report = (event: string) => (error: unknown) => logger.error({ err: error, event }, 'routing an event through Redis failed');
  const toUser = <E extends 'membership' | 'token_revoked' | 'user_tokens_revoked'>(
    event: E,
    data: Parameters<InterServerEvents[E]>[0] & { userId: string },
    addRoom?: string,
  ) => void router.control(rooms.user(data.userId), event, data, addRoom).catch(report(event));

  return {
    messageCreated: (logged) => void router.route(deliveryFor(logged)).catch(report('deliver')),
    membershipChanged: (change) => toUser('membership', change, change.action === 'join' ? rooms.room(change.roomId) : undefined),
    tokenRevoked: (revocation) => toUser('token_revoked', revocation),
    userTokensRevoked: (revocation) => toUser('user_tokens_revoked', revocation),
    signal: (to, event, data) => void router.ephemeral(to, event, data).catch(report(event)),
  };
}
