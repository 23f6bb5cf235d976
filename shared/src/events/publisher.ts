import { Emitter } from '@socket.io/redis-emitter';
import type { Logger } from 'pino';
import type { LoggedMessage } from '../model/message.ts';
import type { RedisClient } from '../redis.ts';
import { rooms } from './rooms.ts';
import { withHandledPublish } from './safe-publish.ts';
import type { Delivery, InterServerEvents, MembershipChange, TokenRevocation, UserTokensRevocation } from './types.ts';

/** What the chat rules announce once a change is committed. */
export interface EventPublisher {
  messageCreated(logged: LoggedMessage): void;
  membershipChanged(change: MembershipChange): void;
  tokenRevoked(revocation: TokenRevocation): void;
  userTokensRevoked(revocation: UserTokensRevocation): void;
}

/** The Socket.IO adapter's channel key for a deployment's Redis prefix. */
export const adapterKey = (prefix: string) => `${prefix}socket.io`;

/** Maps a committed message to its rooms and event name (docs/architecture.md#room-addressing). */
export function deliveryFor({ seq, message, senderId, recipientId }: LoggedMessage): Delivery {
  if (message.room_id !== null) return { rooms: [rooms.room(message.room_id)], event: 'message', seq, message };
  if (recipientId !== null) {
    return { rooms: [...new Set([rooms.user(recipientId), rooms.user(senderId)])], event: 'direct_message', seq, message };
  }
  return { rooms: [rooms.global], event: 'message', seq, message };
}

/**
 * Publishes in the Socket.IO Redis adapter's own wire format (through the
 * official emitter), so every gateway receives these as `serverSideEmit`
 * events. Publishing is fire-and-forget: the message is already committed,
 * and a Redis outage must delay delivery, not fail the request or crash.
 */
export function createEventPublisher(redis: RedisClient, prefix: string, logger: Logger): EventPublisher {
  const client = withHandledPublish(redis, (error, channel) =>
    logger.error({ err: error, channel }, 'publishing an event to Redis failed'),
  );
  const emitter = new Emitter<Record<string, never>>(client, { key: adapterKey(prefix) });
  const emit = <E extends keyof InterServerEvents>(event: E, ...args: Parameters<InterServerEvents[E]>) =>
    emitter.serverSideEmit(event, ...args);

  return {
    messageCreated: (logged) => emit('deliver', deliveryFor(logged)),
    membershipChanged: (change) => emit('membership', change),
    tokenRevoked: (revocation) => emit('token_revoked', revocation),
    userTokensRevoked: (revocation) => emit('user_tokens_revoked', revocation),
  };
}
