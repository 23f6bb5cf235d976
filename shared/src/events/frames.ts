import { z } from 'zod';
import { errorBodySchema, messageSchema } from '../presenters/schemas.ts';
import { deliveredMessage, presenceChange, readChange, readReceipt, reloadEvent, resumedEvent, typingSignal } from './schemas.ts';

/*
 * What the gateways and their clients say to each other, as schemas: one per
 * server event and one per client command, whichever transport carries it.
 * The gateway's senders are typed by them, docs/asyncapi.yaml is generated
 * from them, and the gateway tests check every frame and event they receive
 * against that document.
 */

const cursor = z.string().meta({ description: 'Opaque resume cursor: reconnect with it as `since` to get what was missed' });

/** A stored message on its way to a client, with the cursor that stands for it. */
const messageDelivery = z.object({ message: messageSchema, cursor });

/**
 * Server events both transports carry, one payload schema each. A plain
 * WebSocket frame is `{"type": <name>, ...payload}`; Socket.IO emits `<name>`
 * with the payload, except the seed's two message events, whose Socket.IO
 * payload is the message itself plus its cursor (`ioMessage`). A new event is
 * one entry here and one place in the gateway that sends it.
 */
export const serverEvents = {
  message: { payload: messageDelivery, summary: 'A global or room message' },
  direct_message: { payload: messageDelivery, summary: 'A direct message' },
  message_updated: {
    payload: messageDelivery,
    summary: 'A message this connection may see was edited: the message as it is now (`edited_at` set), in log order after the message itself',
  },
  message_deleted: {
    payload: messageDelivery,
    summary:
      'A message this connection may see was deleted: its tombstone (`deleted_at` set, `content` empty), in log order after the message itself',
  },
  resumed: { payload: resumedEvent.extend({ cursor }), summary: 'Live from here (after `replayed` missed messages when resuming)' },
  reload: { payload: reloadEvent.extend({ cursor }), summary: 'Too much was missed to replay: read history over REST, then continue from `cursor`' },
  presence: {
    payload: presenceChange,
    summary:
      'A user who shares a conversation with this connection (a room, a direct conversation) or whom it watches (`presence_watch`) came online (first connection in the cluster) or went offline (last one): their latest status, at most one per user per PRESENCE_FLUSH_INTERVAL',
  },
  read: {
    payload: readChange,
    summary:
      'You marked a conversation read up to `message_id` (on this connection or another of yours): every connection of the user stays in step. Not replayed on resume: `GET /api/conversations` has the positions',
  },
  read_receipt: {
    payload: readReceipt,
    summary:
      'Another user read a conversation of yours up to `message_id`: the other side of a direct conversation, or a member of a room of at most READ_RECEIPTS_MAX_MEMBERS (in rooms, at most one per reader per second per connection, the latest). Not replayed on resume',
  },
  typing: {
    payload: typingSignal,
    summary:
      'Another member of a conversation of yours is typing there, until `expires_at` unless it comes again (at most one per user and conversation every 2 s). Never stored, never replayed',
  },
  error: {
    payload: errorBodySchema.extend({
      client_msg_id: z.string().optional().meta({ description: "The failed command's client_msg_id, when it had one" }),
    }),
    summary: 'Something the client did failed, or the connection is about to close',
  },
} as const;

export type ServerEventName = keyof typeof serverEvents;
export type ServerEventPayload<E extends ServerEventName> = z.input<(typeof serverEvents)[E]['payload']>;
/** One server event, as the connection lifecycle sends it; each transport frames it its own way. */
export type ServerEvent = { [E in ServerEventName]: { event: E; data: ServerEventPayload<E> } }[ServerEventName];

/**
 * Client commands both transports carry: a plain-WebSocket frame `{"type":
 * <name>, ...input}` or a Socket.IO emit of `<name>` with the input. Each is
 * answered with its reply (a plain-WS `ack` when the frame carried a
 * `client_msg_id`, a Socket.IO acknowledgement) or an error. The inputs are
 * validated by the rules the command calls; a new command is one entry here
 * and one handler (services/gateway/src/connection/commands.ts).
 */
interface CommandSpec {
  /** What the command answers when it succeeds. */
  reply: z.ZodObject;
  summary: string;
  /** The input's schema, for the document, when it does not depend on configuration (the gateway passes those in). */
  input?: z.ZodType;
}

/** Users one connection may watch at most (`presence_watch`). */
export const PRESENCE_WATCH_MAX = 200;

const userIds = z.array(z.string());

const messageId = z.uuid().meta({ description: 'The message to change' });
const commandKey = z.string().optional().meta({
  description:
    'Plain WebSocket: the reply comes as an `ack` carrying it (without one, no reply); a retry with it changes nothing and gets the message as it is now',
});

export const clientCommands = {
  message: { reply: z.object({ message: messageSchema }), summary: 'Send a message' },
  edit: {
    reply: z.object({ message: messageSchema }),
    summary: 'Edit one of your messages (as `PATCH /api/messages/{id}`): `{id, content}`; the reply is the message with `edited_at` set',
  },
  react: {
    reply: z.object({ message: messageSchema }),
    summary:
      'React to a message (`add: true`), or take the reaction back (as `PUT`/`DELETE /api/messages/{id}/reactions/{emoji}`): `{id, emoji, add}`; the reply is the message with its `reactions`',
  },
  delete: {
    input: z.object({ id: messageId, client_msg_id: commandKey }),
    reply: z.object({ message: messageSchema }),
    summary: 'Delete a message, yours or one in a room you created (as `DELETE /api/messages/{id}`): `{id}`; the reply is the tombstone',
  },
  read: {
    input: z.object({
      conversation: z.string().meta({ description: "`global`, `user:<the other user's id>` or `room:<room id>`" }),
      message_id: z.uuid().meta({ description: 'The last message read: a message of the conversation' }),
      client_msg_id: commandKey,
    }),
    reply: z.object({
      conversation: z.string(),
      message_id: z.string().meta({ description: 'The read position now: this message, or a later one read before' }),
      updated_at: z.string(),
    }),
    summary: 'Mark a conversation read up to a message (as `PUT /api/conversations/{id}/read`); the position only moves forward',
  },
  typing: {
    input: z.object({
      conversation: z.string().meta({ description: "`user:<the other user's id>` or `room:<room id>` (not `global`)" }),
      client_msg_id: commandKey,
    }),
    reply: z.object({
      forwarded: z.boolean().meta({ description: 'False when dropped: one per user and conversation every 2 s goes on' }),
    }),
    summary: 'Say you are typing in a conversation where you may send; repeat every 2 s or so while typing',
  },
  presence_watch: {
    input: z.object({
      user_ids: z
        .array(z.uuid())
        .max(PRESENCE_WATCH_MAX)
        .meta({
          description: `The users whose presence this connection wants from now on, at most ${PRESENCE_WATCH_MAX}; replaces the earlier list (\`[]\` stops watching)`,
        }),
      client_msg_id: z.string().optional().meta({
        description: 'Plain WebSocket: the reply comes as an `ack` carrying it (without one, no reply); repeating the command changes nothing',
      }),
    }),
    reply: z.object({
      user_ids: userIds.meta({ description: 'The users watched now, without repeats' }),
      online: userIds.meta({ description: 'Those of them online right now; later changes arrive as `presence`' }),
    }),
    summary: "Watch users' presence (besides the contacts, whose changes come anyway)",
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof clientCommands;
/** What command `C` answers when it succeeds. */
export type CommandReply<C extends CommandName = CommandName> = z.input<(typeof clientCommands)[C]['reply']>;

const commandNames = Object.keys(clientCommands) as CommandName[];

/** The input schema the catalog declares for a command, if it declares one. */
export const declaredInput = (name: CommandName): z.ZodType | undefined => (clientCommands[name] as CommandSpec).input;
/** One schema, or the union of several. */
const anyOf = (schemas: z.ZodObject[]) => (schemas.length === 1 ? (schemas[0] as z.ZodObject) : z.union(schemas));

// Plain WebSocket (`/api/ws/connect`): frames of its own, beside the server events.

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

export const ackFrame = anyOf(
  commandNames.map((name) => clientCommands[name].reply.extend({ type: z.literal('ack'), client_msg_id: z.string() })),
).meta({
  id: 'WsAck',
  description: "A command frame that carried a client_msg_id succeeded: the command's reply (for a retry of it too)",
});

export const pongFrame = z.object({ type: z.literal('pong'), status: z.literal('ok') }).meta({ id: 'WsPong' });

export const pingFrame = z.object({ type: z.literal('ping') }).meta({ id: 'WsPing', description: 'Answered with `pong`' });

/** Every frame the plain endpoint sends. */
export type PlainServerFrame =
  | { [E in ServerEventName]: { type: E } & ServerEventPayload<E> }[ServerEventName]
  | z.input<typeof connectionFrame>
  | z.input<typeof ackFrame>
  | z.input<typeof pongFrame>;

// Socket.IO: the event name tells the payloads apart.

const ioMessage = deliveredMessage
  .extend({ id: messageSchema.shape.id, created_at: messageSchema.shape.created_at, cursor })
  .meta({ id: 'IoMessage', description: 'A stored message plus its resume cursor' });

// Both transports' documented shapes of every server event, derived once (ids are global in zod's registry).

/** `direct_message` -> `DirectMessage`: how the documented ids and keys name an event. */
export const pascal = (name: string) => name.replace(/(?:^|_)(\w)/g, (_, c: string) => c.toUpperCase());
const eventNames = Object.keys(serverEvents) as ServerEventName[];

const byEvent = <T>(make: (name: ServerEventName) => T) =>
  Object.fromEntries(eventNames.map((name) => [name, make(name)])) as Record<ServerEventName, T>;

/** The plain-WebSocket frame of each server event: `type` and the payload's fields. */
export const plainEventFrames = byEvent<z.ZodType>((name) => {
  const { payload, summary } = serverEvents[name];
  return z
    .object({ type: z.literal(name) })
    .extend(payload.shape)
    .meta({ id: `Ws${pascal(name)}`, description: summary });
});

/** The Socket.IO payload of each server event. */
export const ioEventPayloads = byEvent<z.ZodType>((name) => {
  const { payload, summary } = serverEvents[name];
  const isMessage = name === 'message' || name === 'direct_message';
  return isMessage ? ioMessage : payload.meta({ id: `Io${pascal(name)}`, description: summary });
});

export const ioAck = z
  .union([
    ...commandNames.map((name) => clientCommands[name].reply.extend({ ok: z.literal(true) })),
    errorBodySchema.extend({ ok: z.literal(false) }),
  ])
  .meta({ id: 'IoAck', description: "The acknowledgement of a command emit: the command's reply, or the error" });
