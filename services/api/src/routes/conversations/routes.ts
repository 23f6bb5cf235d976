import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { conversationListQuery, readInput, readsPageQuery, type ConversationService } from '@chat/shared/chat';
import { conversationPageSchema, memberReadsPageSchema, readPositionSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params, query, rawBody } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';
import { conversationParams } from './schema.ts';

const tags = ['conversations'];

export function conversationRoutes(deps: { conversations: ConversationService }) {
  const { conversations } = deps;
  return new Hono<AppEnv>()
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Your conversations',
        description:
          'Global, your direct conversations and your rooms, most recently active first, each with its last message, your read position and the unread count after it (capped at 100). Direct conversations say whether the other user is online.',
        ...AUTHENTICATED,
        responses: { 200: json(conversationPageSchema, 'A page, most recently active first'), ...errors(400, 401, 403, ...ALWAYS) },
      }),
      query(conversationListQuery),
      async (c) => {
        const page = await conversations.list(c.get('claims'), c.req.valid('query'));
        return c.json({ conversations: page.items, next_cursor: page.nextCursor });
      },
    )
    .put(
      '/:id/read',
      describeRoute({
        tags,
        summary: 'Mark a conversation read',
        description:
          'Up to `message_id`, a message of the conversation. The position only moves forward: an older message answers the position as it stands. Your connections get `read`; the other side of a direct conversation, and the members of a room of at most READ_RECEIPTS_MAX_MEMBERS, get `read_receipt`.',
        ...AUTHENTICATED,
        responses: { 200: json(readPositionSchema, 'The read position now'), ...errors(400, 401, ...UNSAFE, 404, 429, ...ALWAYS) },
      }),
      params(conversationParams),
      // The read rule validates it, as it does for the socket `read` command.
      rawBody(readInput),
      async (c) => c.json(await conversations.markRead(c.get('claims'), c.req.valid('param').id, c.req.valid('json'))),
    )
    .get(
      '/:id/reads',
      describeRoute({
        tags,
        summary: "Members' read positions",
        description: "A room's members (members only; a page at a time, by user id) or both sides of a direct conversation. Not for `global` (400).",
        ...AUTHENTICATED,
        responses: { 200: json(memberReadsPageSchema, 'A page, by user id'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(conversationParams),
      query(readsPageQuery),
      async (c) => {
        const page = await conversations.reads(c.get('claims'), c.req.valid('param').id, c.req.valid('query'));
        return c.json({ reads: page.items, next_cursor: page.nextCursor });
      },
    );
}
