import { z } from 'zod';
import { errorBodySchema, messageSchema } from '../presenters/schemas.ts';
import { deliveredMessage, messageEventName, presenceChange, reloadEvent, resumedEvent } from './schemas.ts';

/*
 * What the gateways send to clients, as schemas: the plain-WebSocket frames
 * and the Socket.IO event payloads. The gateway's senders are typed by them,
 * docs/asyncapi.yaml is generated from them, and the gateway tests check every
 * frame and event they receive against that document.
 */

const cursor = z.string().meta({ description: 'Opaque resume cursor: reconnect with it as `since` to get what was missed' });

// Plain WebSocket (`/api/ws/connect`): one JSON object per text frame, told apart by `type`.

export const connectionFrame = z
  .object({
    type: z.literal('connection'),
    status: z.literal('connected'),
    user_id: z.string(),
    username: z.string(),
    cursor: cursor
      .optional()
      .meta({ description: 'The resume point, when the client did not resume; a resuming client gets `resumed` or `reload` instead' }),
  })
  .meta({ id: 'WsConnection', description: 'First frame of every connection' });

export const messageFrame = z
  .object({ type: messageEventName, message: messageSchema, cursor })
  .meta({ id: 'WsMessage', description: '`message` for global and room messages, `direct_message` for direct ones' });

export const ackFrame = z
  .object({ type: z.literal('ack'), client_msg_id: z.string(), message: messageSchema })
  .meta({ id: 'WsAck', description: 'The stored message, for a sent frame that carried a client_msg_id (also for a retry of it)' });

export const errorFrame = errorBodySchema
  .extend({
    type: z.literal('error'),
    client_msg_id: z.string().optional().meta({ description: "The failed frame's client_msg_id, when it had one" }),
  })
  .meta({ id: 'WsError', description: 'A refused frame; the connection stays open unless a close follows' });

export const pongFrame = z.object({ type: z.literal('pong'), status: z.literal('ok') }).meta({ id: 'WsPong' });

export const resumedFrame = resumedEvent
  .extend({ type: z.literal('resumed'), cursor })
  .meta({ id: 'WsResumed', description: 'Replay after `since` is complete: `replayed` messages were sent first; live from here' });

export const reloadFrame = reloadEvent
  .extend({ type: z.literal('reload'), cursor })
  .meta({ id: 'WsReload', description: 'Too much was missed to replay: read history over REST, then continue from `cursor`' });

export type PlainServerFrame =
  | z.input<typeof connectionFrame>
  | z.input<typeof messageFrame>
  | z.input<typeof ackFrame>
  | z.input<typeof errorFrame>
  | z.input<typeof pongFrame>
  | z.input<typeof resumedFrame>
  | z.input<typeof reloadFrame>;

export const pingFrame = z.object({ type: z.literal('ping') }).meta({ id: 'WsPing', description: 'Answered with `pong`' });

// Socket.IO: the event name tells the payloads apart.

export const ioMessage = deliveredMessage
  .extend({ id: messageSchema.shape.id, created_at: messageSchema.shape.created_at, cursor })
  .meta({ id: 'IoMessage', description: 'A stored message plus its resume cursor' });

export const ioResumed = resumedEvent
  .extend({ cursor })
  .meta({ id: 'IoResumed', description: 'Live from here; after `replayed` missed messages when resuming' });
export const ioReload = reloadEvent
  .extend({ cursor })
  .meta({ id: 'IoReload', description: 'Too much was missed to replay: read history over REST, then continue from `cursor`' });
export const ioPresence = presenceChange.meta({ id: 'IoPresence', description: 'A user came online (first socket) or went offline (last socket)' });

export const ioAck = z
  .union([z.object({ ok: z.literal(true), message: messageSchema }), errorBodySchema.extend({ ok: z.literal(false) })])
  .meta({ id: 'IoAck', description: 'The acknowledgement of a `message` emit' });
