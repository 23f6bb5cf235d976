import { z } from 'zod';
import { chatMessage } from '../model/message.ts';

/**
 * One zod schema per event that crosses processes or reaches clients. The
 * TypeScript types are inferred from these, publishers are typed by them and
 * gateways validate arrivals with them, so the two sides cannot drift apart.
 */

export const messageEventName = z.enum(['message', 'direct_message']);

/** A committed message and the rooms that should see it. */
export const delivery = z.object({
  rooms: z.array(z.string()).min(1),
  event: messageEventName,
  message: chatMessage,
});

export const membershipChange = z.object({
  action: z.enum(['join', 'leave']),
  userId: z.string(),
  roomId: z.string(),
});

/** Sockets authenticated with this token are disconnected on every gateway. */
export const tokenRevocation = z.object({ userId: z.string(), jti: z.string() });

export const presenceChange = z.object({
  user_id: z.string(),
  username: z.string(),
  status: z.enum(['online', 'offline']),
});

/** Events between servers (API -> gateways, gateway -> gateways), sent with `serverSideEmit`. */
export const interServerEvents = {
  deliver: delivery,
  membership: membershipChange,
  token_revoked: tokenRevocation,
} as const;
