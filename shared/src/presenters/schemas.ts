import { z } from 'zod';
import { ERROR_CODES } from '../errors.ts';
import { WEBHOOK_EVENTS } from '../integrations/payloads.ts';
import { chatMessage } from '../model/message.ts';

/**
 * The JSON bodies clients receive, as schemas: the API's OpenAPI document and
 * the gateway's AsyncAPI document are generated from these, and the contract
 * tests check real responses and frames against them. Each describes the
 * wire (ISO strings, not Dates); the presenters beside them build the values.
 */

const timestamp = z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 time, e.g. 2026-12-02T10:00:00.000Z' });
const uuid = z.uuid();

export const errorBodySchema = z
  .object({
    error: z.string().meta({ description: 'A human-readable message; clients switch on `code`, not on this' }),
    code: z.enum(ERROR_CODES),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    retry_after: z.int().min(0).optional().meta({ description: 'Seconds before a retry can succeed (rate_limited); HTTP also sends Retry-After' }),
    request_id: z.string().optional().meta({ description: 'Only on internal errors: quote it when reporting the failure' }),
  })
  .meta({ id: 'Error' });

export const messageSchema = chatMessage.extend({ id: uuid, created_at: timestamp }).meta({
  id: 'Message',
  description: 'A stored message; `recipient` is set on direct messages, `room_id` on room messages, neither on global ones',
});

export const uploadSchema = z
  .object({
    id: uuid,
    name: z.string().meta({ description: 'The file name as sent, without any path, control characters cut, at most 200 characters' }),
    size: z.int().min(1).meta({ description: 'Bytes' }),
    content_type: z.string().meta({ description: "What the file's content shows it is (never the client's word)" }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .meta({ description: "Hex SHA-256 of the bytes; also the download's ETag" }),
    url: z.string().meta({ description: 'Where to download it: `/api/uploads/{id}`' }),
    width: z.int().min(1).optional().meta({ description: 'Images: pixels' }),
    height: z.int().min(1).optional(),
  })
  .meta({ id: 'Upload', description: 'A stored file, to attach to a message (`attachments: [id]`) within UPLOAD_ORPHAN_TTL' });

const scopeList = z.array(z.enum(['messages:read', 'messages:write', 'rooms:write']));

const accessTokenSchema = z
  .object({
    id: uuid,
    name: z.string(),
    user_id: uuid.meta({ description: 'Who it acts as: you, or one of your bots' }),
    scopes: scopeList,
    created_at: timestamp,
    expires_at: timestamp.nullable().meta({ description: 'When it stops working; null: when deleted' }),
  })
  .meta({ id: 'AccessToken', description: 'An access token, without its secret' });

export const newAccessTokenSchema = accessTokenSchema
  .extend({ token: z.string().meta({ description: 'The secret (`chat_pat_...`): shown this once; send it as `Authorization: Bearer`' }) })
  .meta({ id: 'NewAccessToken' });

export const accessTokenListSchema = z.object({ tokens: z.array(accessTokenSchema) }).meta({ id: 'AccessTokenList' });

const botSchema = z.object({ id: uuid, username: z.string(), owner_id: uuid, created_at: timestamp }).meta({ id: 'Bot' });

export const newBotSchema = z.object({ bot: botSchema, token: newAccessTokenSchema }).meta({ id: 'NewBot' });

export const botListSchema = z.object({ bots: z.array(botSchema) }).meta({ id: 'BotList' });

export const messagePageSchema = z
  .object({
    messages: z.array(messageSchema).meta({ description: 'Newest first' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `before` for the next (older) page; null on the last page' }),
  })
  .meta({ id: 'MessagePage' });

export const userSchema = z
  .object({
    id: uuid,
    username: z.string(),
    email: z.string().optional().meta({ description: "Only in the caller's own record" }),
    is_online: z.boolean(),
    created_at: timestamp,
  })
  .meta({ id: 'User' });

export const userPageSchema = z
  .object({
    users: z.array(userSchema),
    count: z.int().min(0),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `after` for the next page; null on the last page' }),
  })
  .meta({ id: 'UserPage' });

export const sessionSchema = z
  .object({
    token: z.string().meta({ description: 'A JWT; also set as the HttpOnly `jwt_token` cookie' }),
    user: userSchema,
    expires_at: z.int().meta({ description: 'Unix seconds when the token expires' }),
  })
  .meta({ id: 'Session' });

export const roomSchema = z
  .object({
    id: uuid,
    name: z.string(),
    description: z.string(),
    created_by: uuid.nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'Room' });

export const roomDetailsSchema = roomSchema
  .extend({ members: z.array(z.object({ id: uuid, username: z.string(), joined_at: timestamp })) })
  .meta({ id: 'RoomDetails' });

const memberRoomSchema = roomSchema.extend({ joined_at: timestamp }).meta({ id: 'MemberRoom', description: 'A room the user belongs to' });

export const roomPageSchema = z
  .object({
    rooms: z.array(memberRoomSchema),
    count: z.int().min(0),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `after` (or, when paging backwards, `before`) for the next page; null on the last page' }),
  })
  .meta({ id: 'RoomPage' });

export const memberAddedSchema = z.object({ room_id: uuid, user_id: uuid, added: z.boolean() }).meta({ id: 'MemberAdded' });
export const memberRemovedSchema = z.object({ room_id: uuid, user_id: uuid, removed: z.literal(true) }).meta({ id: 'MemberRemoved' });
export const loggedOutSchema = z.object({ message: z.string() }).meta({ id: 'LoggedOut' });

const conversationId = z.string().meta({ description: "`global`, `user:<the other user's id>` or `room:<room id>`" });

const conversationSchema = z
  .object({
    id: conversationId,
    kind: z.enum(['global', 'direct', 'room']),
    title: z.string().meta({ description: "`global`, the other user's username, or the room's name" }),
    last_message: messageSchema.nullable(),
    unread_count: z.int().min(0).max(100).meta({ description: 'Messages of others after `read_up_to` (standing ones), at most 100' }),
    unread_capped: z.boolean().meta({ description: 'True when there are more than 100 (show "99+")' }),
    read_up_to: uuid.nullable().meta({ description: 'The last message you marked read; null if none' }),
    updated_at: timestamp.meta({ description: 'The last message; a room without messages: when you joined it' }),
    online: z.boolean().nullable().meta({ description: 'Direct conversations: whether the other user is online now; null for the others' }),
  })
  .meta({ id: 'Conversation' });

export const conversationPageSchema = z
  .object({
    conversations: z.array(conversationSchema).meta({ description: 'Most recently active first' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `before` for the next page; null on the last page' }),
  })
  .meta({ id: 'ConversationPage' });

export const readPositionSchema = z
  .object({
    conversation: conversationId,
    message_id: uuid.meta({ description: 'The read position now: the message asked for, or a later one marked before' }),
    updated_at: timestamp,
  })
  .meta({ id: 'ReadPosition' });

export const memberReadsPageSchema = z
  .object({
    reads: z.array(
      z.object({
        user_id: uuid,
        username: z.string(),
        message_id: uuid.nullable().meta({ description: 'Their read position; null if they never marked one' }),
        updated_at: timestamp.nullable(),
      }),
    ),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `after` for the next page; null on the last page' }),
  })
  .meta({ id: 'MemberReadsPage' });

export const roomPresenceSchema = z
  .object({
    room_id: uuid,
    online: z.array(z.object({ id: uuid, username: z.string() })).meta({ description: 'Members online now' }),
  })
  .meta({ id: 'RoomPresence' });

export const connectedUsersSchema = z
  .object({ connected_users: z.array(z.string()), count: z.int().min(0), timestamp })
  .meta({ id: 'ConnectedUsers' });

const dependencyState = z.enum(['connected', 'disconnected']);

export const healthSchema = z
  .object({ status: z.enum(['healthy', 'unhealthy']), database: dependencyState, redis: dependencyState, timestamp })
  .catchall(z.string())
  .meta({ id: 'Health', description: 'The seed-compatible health body; a service may add string fields naming itself' });

export const livenessSchema = z.object({ status: z.literal('alive'), timestamp }).meta({ id: 'Liveness' });

export const readinessSchema = z
  .object({ status: z.enum(['ready', 'not_ready']), database: dependencyState, redis: dependencyState, draining: z.boolean(), timestamp })
  .meta({ id: 'Readiness' });

const webhookSchema = z
  .object({
    id: uuid,
    user_id: uuid.meta({ description: 'Whose view of the log it hears: you, or one of your bots' }),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENTS)),
    conversation: z.string().nullable().meta({ description: 'The one conversation it hears; null: everything its owner sees' }),
    status: z.enum(['active', 'paused']).meta({ description: '`paused` after WEBHOOK_MAX_FAILURES failed attempts in a row' }),
    failures: z.int().min(0).meta({ description: 'Failed attempts in a row' }),
    last_error: z.string().nullable(),
    paused_at: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'Webhook', description: 'An outgoing webhook, without its secret' });

export const newWebhookSchema = webhookSchema
  .extend({
    secret: z.string().meta({ description: 'The signing secret (`whsec_...`): shown this once; verify every delivery with it (docs/webhooks.md)' }),
  })
  .meta({ id: 'NewWebhook' });

export { webhookSchema };

export const webhookListSchema = z.object({ webhooks: z.array(webhookSchema) }).meta({ id: 'WebhookList' });

export const deliveryPageSchema = z
  .object({
    deliveries: z
      .array(
        z.object({
          id: z.string(),
          event_id: z.string().meta({ description: "The event's id (its `webhook-id` header)" }),
          seq: z.int(),
          event: z.enum(WEBHOOK_EVENTS),
          attempt: z.int().min(1).meta({ description: "This event's attempt number" }),
          outcome: z.enum(['delivered', 'failed']),
          status_code: z.int().nullable().meta({ description: "The receiver's status; null when there was no answer" }),
          error: z.string().nullable(),
          duration_ms: z.int().min(0),
          created_at: timestamp,
        }),
      )
      .meta({ description: 'Newest first' }),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `before` for older attempts; null on the last page' }),
  })
  .meta({ id: 'WebhookDeliveryPage' });

export const pushKeySchema = z
  .object({ public_key: z.string().meta({ description: 'The VAPID public key: `applicationServerKey` of `pushManager.subscribe`' }) })
  .meta({ id: 'PushKey' });

const pushSubscriptionSchema = z.object({ id: uuid, endpoint: z.string(), created_at: timestamp }).meta({ id: 'PushSubscription' });
export { pushSubscriptionSchema };
export const pushSubscriptionListSchema = z.object({ subscriptions: z.array(pushSubscriptionSchema) }).meta({ id: 'PushSubscriptionList' });
