import { z } from 'zod';
import { chatMessage } from '../model/message.ts';

/**
 * One zod schema per event that crosses processes or reaches clients. The
 * TypeScript types are inferred from these, publishers are typed by them and
 * gateways validate arrivals with them, so the two sides cannot drift apart.
 */

export const messageEventName = z.enum(['message', 'direct_message']);

/** The client event of each kind of log entry: a new message (the seed's two events), an edit, a deletion. */
const logEventName = z.enum([...messageEventName.options, 'message_updated', 'message_deleted']);

/** A committed log entry (a message, or a change to one with the message as it is now), its position in the log and the rooms that should see it. */
export const delivery = z.object({
  rooms: z.array(z.string()).min(1),
  event: logEventName,
  seq: z.number().int().positive(),
  message: chatMessage,
});

/** A message as a Socket.IO client receives it: the stored message plus its resume cursor. */
export const deliveredMessage = chatMessage.extend({ cursor: z.string() });

/** Socket.IO `resumed`: the connection is live from `cursor` on, after `replayed` missed messages. */
export const resumedEvent = z.object({ cursor: z.string(), replayed: z.number().int().nonnegative() });

/** Socket.IO `reload`: too much was missed to replay; read history over REST, then continue from `cursor`. */
export const reloadEvent = z.object({ reason: z.literal('backlog_too_large'), cursor: z.string() });

export const membershipChange = z.object({
  action: z.enum(['join', 'leave']),
  userId: z.string(),
  roomId: z.string(),
  /** Joins: the log head read in the join's transaction. The joiner's gateway replays the room's messages after it that were routed before the join reached it. */
  logHead: z.number().int().nonnegative().optional(),
});

/** Sockets authenticated with this token are disconnected on every gateway. */
export const tokenRevocation = z.object({ userId: z.string(), jti: z.string() });

/** "Log out everywhere": the user's sockets whose token was issued (`iat`) at or before `issuedNotAfter` are disconnected. */
export const userTokensRevocation = z.object({ userId: z.string(), issuedNotAfter: z.number().int() });

/** A user's first connection in the cluster (`online`) or last disconnection (`offline`). */
export const presenceChange = z.object({
  user_id: z.string(),
  username: z.string(),
  status: z.enum(['online', 'offline']),
});

const conversation = z
  .string()
  .meta({ description: "A conversation as the receiving user names it: `global`, `user:<the other user's id>` or `room:<room id>`" });

/** The user marked a conversation read up to a message: for the user's own connections (every tab and device in step). */
export const readChange = z.object({ conversation, message_id: z.string() });

/** Another user (`user`, their id) read a conversation this connection is in up to a message. */
export const readReceipt = z.object({ conversation, user: z.string(), username: z.string(), message_id: z.string() });

/** Another user (`user`, their id) is typing in a conversation this connection is in, until `expires_at` unless it comes again. */
export const typingSignal = z.object({ conversation, user: z.string(), username: z.string(), expires_at: z.string() });

/** Events between servers (API -> gateways, gateway -> gateways), routed to the gateways of their rooms (router/). */
export const interServerEvents = {
  deliver: delivery,
  membership: membershipChange,
  token_revoked: tokenRevocation,
  user_tokens_revoked: userTokensRevocation,
} as const;

/**
 * Ephemeral events: never stored, never replayed, sent by the router without a
 * number to the gateways of a set of rooms (router/types.ts `ephemeral`), and
 * by each gateway, coalesced, to its connections in those rooms as the server
 * event of the same name (frames.ts). A lost one stays lost.
 */
export const ephemeralEvents = {
  presence: presenceChange,
  read: readChange,
  read_receipt: readReceipt,
  typing: typingSignal,
} as const;
