import { z } from 'zod';
import type { ConversationRef } from '../model/conversation.ts';

/** Any 8-4-4-4-12 hex id; PostgreSQL accepts all of them as uuid. */
export const id = (what: string) => z.guid({ error: `${what} must be a valid id` }).transform((v) => v.toLowerCase());

export const USERNAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{2,31}$/;
export const username = z
  .string({ error: 'username must be a string' })
  .regex(USERNAME_PATTERN, 'username must be 3-32 letters, digits, _ . or -, not starting with . or -');

/**
 * Message content: stored and returned byte for byte, so it is not trimmed;
 * but it must hold something visible, be well-formed Unicode (no lone
 * surrogates) and carry no NUL, which PostgreSQL text cannot store.
 */
const content = (maxLength: number) =>
  z
    .string({ error: 'content must be a string' })
    .refine((s) => s.trim().length > 0, 'content must not be empty')
    .refine((s) => s.isWellFormed() && !s.includes('\u0000'), 'content must be valid Unicode text without NUL characters')
    .refine((s) => [...s].length <= maxLength, `content must be at most ${maxLength} characters`)
    // The refinements above are code; this states them for the API documents (JSON Schema counts code points too).
    .meta({ minLength: 1, maxLength, description: 'Some visible text, at most maxLength Unicode characters, no NUL' });

/** A client's key for one send (REST `Idempotency-Key`, socket `client_msg_id`): retries with it are answered with the original. */
export const clientMsgId = z
  .string({ error: 'client_msg_id must be a string' })
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'client_msg_id must be 1-128 letters, digits, . _ : or -');

/** Files one message may carry. */
const MAX_ATTACHMENTS = 10;

/** One schema for every transport's "send a message" request. */
export const sendMessageInput = (maxLength: number) =>
  z
    .object({
      content: content(maxLength),
      recipient: z.union([username, id('recipient')]).nullish(),
      room_id: id('room_id').nullish(),
      // The seed's clients send their own name here; only the caller's is accepted.
      sender: z.string({ error: 'sender must be a string' }).nullish(),
      client_msg_id: clientMsgId.nullish(),
      reply_to: id('reply_to')
        .nullish()
        .meta({ description: 'A message of the same conversation to reply to: the reply joins its thread (the root of it, for a reply to a reply)' }),
      attachments: z
        .array(id('attachment'), { error: 'attachments must be a list of upload ids' })
        .max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`)
        .optional()
        .meta({ description: `Up to ${MAX_ATTACHMENTS} of your uploads (\`POST /api/uploads\`) that no message carries yet` }),
    })
    .refine((m) => m.recipient == null || m.room_id == null, {
      message: 'a message goes either to a recipient or to a room, not both',
      path: ['room_id'],
    });

/** One schema for every transport's "edit a message" request: the new content, under the same rules as a send. */
export const editMessageInput = (maxLength: number) => z.object({ content: content(maxLength), client_msg_id: clientMsgId.nullish() });

/** The socket `edit` command as documented: the message's id beside the edit. */
export const editCommandInput = (maxLength: number) => editMessageInput(maxLength).extend({ id: z.uuid() });

const SHORT_CODE = /^:[a-z0-9_+-]{1,30}:$/;
// One RGI emoji: a single grapheme, ZWJ sequences, flags, keycaps and skin tones included.
const ONE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');

/** A reaction: one emoji, or a `:short_code:` of at most 32 characters. */
const emoji = z
  .string({ error: 'emoji must be a string' })
  .refine((s) => SHORT_CODE.test(s) || ONE_EMOJI.test(s), 'emoji must be one emoji or a :short_code: (a-z, 0-9, _ + -) of at most 32 characters')
  .meta({ description: 'One emoji, or a `:short_code:` of at most 32 characters' });

/** One schema for every transport's "react to a message" request (the message id apart). */
export const reactInput = z.object({
  emoji,
  add: z.boolean({ error: 'add must be true or false' }),
  client_msg_id: clientMsgId.nullish(),
});

/** The socket `react` command as documented: the message's id beside the reaction. */
export const reactCommandInput = reactInput.extend({ id: z.uuid() });

/** What a "delete a message" request may carry besides the id: its idempotency key (sockets). */
export const deleteMessageInput = z.object({ client_msg_id: clientMsgId.nullish() });

const MAX_PAGE_SIZE = 100;

/** `?limit=` of every paginated listing. */
export const pageLimit = z.coerce
  .number({ error: 'limit must be a number' })
  .int('limit must be a whole number')
  .min(1, 'limit must be at least 1')
  .max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`)
  .default(50);

/** `?limit=&before=` of every message listing. */
export const pageQuery = z.object({
  limit: pageLimit,
  before: id('before').optional(),
});

/** Any text a person typed for a name or description: well-formed, no NUL. */
export const text = (field: string, min: number, max: number) =>
  z
    .string({ error: `${field} must be a string` })
    .min(min, min === 1 ? `${field} must not be empty` : `${field} must be at least ${min} characters`)
    .max(max, `${field} must be at most ${max} characters`)
    .refine((s) => s.isWellFormed() && !s.includes('\u0000'), `${field} must be valid Unicode text without NUL characters`);

const CONVERSATION_ID = /^(?:global|(user|room):([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}))$/;

/** A conversation id (`global`, `user:<user id>`, `room:<room id>`), as the reference it names. */
export const conversationRef = z
  .string({ error: 'conversation must be a string' })
  .regex(CONVERSATION_ID, 'conversation must be global, user:<user id> or room:<room id>')
  .transform((s): ConversationRef => {
    const [, kind, target] = CONVERSATION_ID.exec(s) ?? [];
    if (kind === 'user') return { kind: 'direct', userId: (target as string).toLowerCase() };
    if (kind === 'room') return { kind: 'room', roomId: (target as string).toLowerCase() };
    return { kind: 'global' };
  })
  .meta({ description: "A conversation: `global`, `user:<the other user's id>` or `room:<room id>`" });

/** "I have read up to this message" (REST body; the socket `read` command adds `conversation`). */
export const readInput = z.object({ message_id: id('message_id') });

/** The socket `read` command. */
export const readCommandInput = readInput.extend({ conversation: conversationRef, client_msg_id: clientMsgId.nullish() });

/** The socket `typing` command. */
export const typingInput = z.object({ conversation: conversationRef, client_msg_id: clientMsgId.nullish() });

/** `?limit=&before=` of the conversation list: `before` is the `next_cursor` of the page before. */
export const conversationListQuery = z.object({
  limit: pageLimit,
  before: z
    .string({ error: 'before must be a string' })
    .max(200, 'before must be a next_cursor of this listing')
    .optional()
    .meta({ description: 'The `next_cursor` of the previous page' }),
});

/** `?limit=&after=` of a conversation's read positions, by user id. */
export const readsPageQuery = z.object({
  limit: pageLimit,
  after: id('after').optional().meta({ description: 'The `next_cursor` of the previous page (a user id)' }),
});
