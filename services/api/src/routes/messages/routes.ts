import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { clientMsgId, type MessageService, pageQuery } from '@chat/shared/chat';
import type { Metrics } from '@chat/shared/metrics';
import { messagePageSchema, messageSchema, presentMessagePage } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params, query, rawBody } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, parameter, UNSAFE } from '../../openapi/responses.ts';
import { betweenParams, messageParams, reactionParams } from './schema.ts';

const tags = ['messages'];

/** Edits and deletions take the same idempotency keys as sends. */
const changeKey = parameter(
  'header',
  'Idempotency-Key',
  clientMsgId,
  'A retry with the same key changes nothing and gets the message as it is now; the same key for another message is 409',
);

export function messageRoutes(deps: { messages: MessageService; metrics: Metrics }) {
  const { messages } = deps;
  return new Hono<AppEnv>()
    .post(
      '/',
      describeRoute({
        tags,
        summary: 'Send a message',
        description:
          'A global message (neither `recipient` nor `room_id`), a direct message (`recipient`: a username or user id) or a room message (`room_id`; the sender must be a member). Every connected audience receives it over both socket kinds.',
        ...AUTHENTICATED,
        parameters: [
          parameter(
            'header',
            'Idempotency-Key',
            clientMsgId,
            'Retries with the same key get the original message (200) instead of a second copy; the same key as `client_msg_id`',
          ),
        ],
        responses: {
          201: json(messageSchema, 'Stored and published'),
          200: json(messageSchema, 'A retry: the message this Idempotency-Key (or client_msg_id) already stored'),
          ...errors(400, 401, ...UNSAFE, 404, 429, ...ALWAYS),
        },
      }),
      rawBody(messages.inputSchema),
      async (c) => {
        const idempotencyKey = c.req.header('idempotency-key');
        const { message, duplicate } = await messages.send(c.get('claims'), c.req.valid('json'), { idempotencyKey });
        if (!duplicate) deps.metrics.messagesStored.inc({ transport: 'rest' });
        // A retry with the same key gets the original, as the first answer would have been had it arrived.
        return c.json(message, duplicate ? 200 : 201);
      },
    )
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Messages the caller may see',
        description: "Global messages, the caller's direct messages and the messages of the caller's rooms, newest first.",
        ...AUTHENTICATED,
        responses: { 200: json(messagePageSchema, 'A page, newest first'), ...errors(400, 401, 403, ...ALWAYS) },
      }),
      query(pageQuery),
      async (c) => c.json(presentMessagePage(await messages.listVisible(c.get('claims'), c.req.valid('query')))),
    )
    .patch(
      '/:id',
      describeRoute({
        tags,
        summary: 'Edit a message',
        description:
          "Only its sender, within `MESSAGE_EDIT_WINDOW` (no limit by default); the content follows the rules of a send, and the edit counts against `MESSAGE_RATE_LIMIT`. The message's audience receives `message_updated` over both socket kinds, in log order after the message. A message the caller cannot see is 404.",
        ...AUTHENTICATED,
        parameters: [changeKey],
        responses: {
          200: json(messageSchema, 'The message as it is now, `edited_at` set'),
          ...errors(400, 401, 404, 409, 429, ...UNSAFE, ...ALWAYS),
        },
      }),
      params(messageParams),
      rawBody(messages.editSchema),
      async (c) => {
        const idempotencyKey = c.req.header('idempotency-key');
        return c.json(await messages.edit(c.get('claims'), c.req.valid('param').id, c.req.valid('json'), { idempotencyKey }));
      },
    )
    .delete(
      '/:id',
      describeRoute({
        tags,
        summary: 'Delete a message',
        description:
          "Its sender, or for a room message the room's creator. The content is erased from the database; history keeps a tombstone in its place (`deleted_at` set, `content` empty). The audience receives `message_deleted` over both socket kinds. Deleting it again answers the same tombstone. A message the caller cannot see is 404.",
        ...AUTHENTICATED,
        parameters: [changeKey],
        responses: { 200: json(messageSchema, 'The tombstone'), ...errors(400, 401, 404, ...UNSAFE, ...ALWAYS) },
      }),
      params(messageParams),
      async (c) => {
        const idempotencyKey = c.req.header('idempotency-key');
        return c.json(await messages.remove(c.get('claims'), c.req.valid('param').id, {}, { idempotencyKey }));
      },
    )
    .on(
      ['PUT', 'DELETE'],
      '/:id/reactions/:emoji',
      describeRoute({
        tags,
        summary: 'React to a message (PUT), or take the reaction back (DELETE)',
        description:
          "`{emoji}` is one emoji (URL-encoded) or a `:short_code:` of at most 32 characters. Idempotent per user: reacting twice, or taking back what is not there, changes nothing and announces nothing. At most `REACTIONS_MAX_DISTINCT` different emoji per message (409 beyond); counted against `REACTION_RATE_LIMIT`. A change reaches the message's audience as `message_updated` with the new `reactions`. A message the caller cannot see is 404; a deleted one 409.",
        ...AUTHENTICATED,
        parameters: [changeKey],
        responses: {
          200: json(messageSchema, 'The message with its `reactions` as they are now'),
          ...errors(400, 401, 404, 409, 429, ...UNSAFE, ...ALWAYS),
        },
      }),
      params(reactionParams),
      async (c) => {
        const { id, emoji } = c.req.valid('param');
        const idempotencyKey = c.req.header('idempotency-key');
        return c.json(await messages.react(c.get('claims'), id, { emoji, add: c.req.method === 'PUT' }, { idempotencyKey }));
      },
    )
    .get(
      '/:id/replies',
      describeRoute({
        tags,
        summary: "A thread's replies",
        description:
          'The replies of the thread of message `{id}` (its root, or any reply in it), newest first, paged like history. A message the caller cannot see is 404.',
        ...AUTHENTICATED,
        responses: { 200: json(messagePageSchema, 'A page, newest first'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(messageParams),
      query(pageQuery),
      async (c) => c.json(presentMessagePage(await messages.listReplies(c.get('claims'), c.req.valid('param').id, c.req.valid('query')))),
    )
    .get(
      '/between/:user1/:user2',
      describeRoute({
        tags,
        summary: 'Direct messages between two users',
        description: 'Both directions, newest first; the caller must be one of the two.',
        ...AUTHENTICATED,
        responses: { 200: json(messagePageSchema, 'A page, newest first'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(betweenParams),
      query(pageQuery),
      async (c) => {
        const { user1, user2 } = c.req.valid('param');
        const page = await messages.listBetween(c.get('claims'), user1, user2, c.req.valid('query'));
        return c.json(presentMessagePage(page));
      },
    );
}
