import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { isCheckViolation, isForeignKeyViolation, isUniqueViolation } from '../db/database.ts';
import type { DB } from '../db/schema.ts';
import {
  changeMessage,
  findChangeable,
  findChangeByClientKey,
  findMessage,
  findMessageByClientKey,
  listReplies,
  reactMessage,
  listDirectMessages,
  listVisibleMessages,
  storeMessage,
  type MessageTarget,
  type StoredMessage,
} from '../db/queries/messages.ts';
import { findRoom } from '../db/queries/rooms.ts';
import { conflict, forbidden, invalid, notFound, unauthenticated } from '../errors.ts';
import type { Limiter } from '../limits/rate-limits.ts';
import type { Logger } from '../logger.ts';
import type { Actor, ChatMessage, Page, PageResult } from '../model/index.ts';
import { parseInput } from '../validation.ts';
import { findUsersByNameOrId, isSameUser, userRef } from './lookup.ts';
import type { LogNumbering } from './numbering.ts';
import { pageOrWhy } from './pages.ts';
import { clientMsgId, deleteMessageInput, editMessageInput, id, reactInput, sendMessageInput } from './schemas.ts';
import { requireScope } from '../auth/scopes.ts';

export interface SendResult {
  message: ChatMessage;
  /** True when the client's key had already stored this message: nothing new was stored or delivered. */
  duplicate: boolean;
}

export interface MessageService {
  /**
   * The one write path: REST, Socket.IO and plain WebSocket all send through
   * here. `idempotencyKey` is REST's header; socket clients put the same key in
   * the message as `client_msg_id`.
   */
  send(actor: Actor, input: unknown, opts?: { idempotencyKey?: string | undefined }): Promise<SendResult>;
  /** What `send` accepts, with the configured length limit: the API documents its body with it. */
  readonly inputSchema: z.ZodType;
  /**
   * Edits a message: only its sender, within MESSAGE_EDIT_WINDOW, with
   * content under the rules of a send (and counted as a send). The edit takes
   * its own position in the log and reaches the message's audience as
   * `message_updated`. Returns the message as it is now.
   */
  edit(actor: Actor, messageId: unknown, input: unknown, opts?: { idempotencyKey?: string | undefined }): Promise<ChatMessage>;
  /** What `edit` accepts. */
  readonly editSchema: z.ZodType;
  /**
   * Deletes a message: its sender, or for a room message the room's creator.
   * The content is erased and a tombstone (`deleted_at`, empty content) keeps
   * its place; the deletion reaches the audience as `message_deleted`.
   * Deleting a deleted message answers its tombstone again.
   *
   * Both take an idempotency key like `send` (REST `Idempotency-Key`, socket
   * `client_msg_id`): a retry answers the message as it is now and changes
   * nothing; the same key for another message is a 409.
   */
  remove(actor: Actor, messageId: unknown, input?: unknown, opts?: { idempotencyKey?: string | undefined }): Promise<ChatMessage>;
  /**
   * Adds (`add: true`) or removes the actor's reaction `emoji` to a message
   * they can see and that is not deleted: idempotent per user (adding twice
   * or removing what is not there changes and announces nothing), at most
   * REACTIONS_MAX_DISTINCT different emoji per message (409 beyond), counted
   * against REACTION_RATE_LIMIT. A change reaches the audience as
   * `message_updated` with the new `reactions`. Returns the message as it is now.
   */
  react(actor: Actor, messageId: unknown, input: unknown, opts?: { idempotencyKey?: string | undefined }): Promise<ChatMessage>;
  listVisible(actor: Actor, page: Page): Promise<PageResult<ChatMessage>>;
  /** `user1` and `user2` are usernames or ids; the actor must be one of them. */
  listBetween(actor: Actor, user1: string, user2: string, page: Page): Promise<PageResult<ChatMessage>>;
  /** A thread's replies, newest first, for whoever may see its root (404 for anyone else); a reply's id pages its root's thread. */
  listReplies(actor: Actor, messageId: unknown, page: Page): Promise<PageResult<ChatMessage>>;
}

export function createMessageService(deps: {
  db: Kysely<DB>;
  numbering: LogNumbering;
  maxMessageLength: number;
  logger: Logger;
  /** MESSAGE_RATE_LIMIT per user, shared by every transport and replica; none in tests that build the service bare. */
  rateLimit?: Limiter;
  /** MESSAGE_EDIT_WINDOW: how long after sending its sender may edit a message; 0 for always. */
  editWindowMs?: number;
  /** REACTIONS_MAX_DISTINCT (default 20). */
  maxDistinctReactions?: number;
  /** REACTION_RATE_LIMIT per user; none in tests that build the service bare. */
  reactionRateLimit?: Limiter;
  /** A deletion marked the message's files deleted: their bytes can go now (best effort; the uploads sweep does it otherwise). */
  filesDeleted?: () => void;
}): MessageService {
  const { db, numbering, logger } = deps;
  const sendSchema = sendMessageInput(deps.maxMessageLength);
  const editSchema = editMessageInput(deps.maxMessageLength);
  const messageId = id('message id');

  /**
   * After the commit of a write, and only then: announcing what could still
   * roll back would deliver what does not exist. An entry that committed
   * without its number (the log was busy) is stored either way; if numbering
   * fails now, a gateway numbers it within seconds.
   */
  async function settle(stored: StoredMessage) {
    numbering.announce(stored.numbered);
    if (stored.pending) {
      await numbering.numberPending().catch((error: unknown) => logger.warn({ err: error }, 'numbering a stored entry failed; the log sweep will'));
    }
  }

  /** The message as it is now. */
  async function current(id: string) {
    const message = await findMessage(db, id);
    if (!message) throw notFound('message');
    return message;
  }

  /** The answer to a retried change: the message as it is now, if `key` already changed it. */
  async function repeated(actor: Actor, key: string | null, id: string) {
    const earlier = key === null ? undefined : await findChangeByClientKey(db, actor.id, key);
    if (!earlier) return undefined;
    if (earlier.messageId !== id) throw conflict('this idempotency key was already used for a change to another message');
    return current(id);
  }

  /** Logs a change by `actor`; undefined when the message was deleted meanwhile. A concurrent retry with the same key answers as a retry. */
  async function change(actor: Actor, key: string | null, id: string, what: { kind: 'updated'; content: string } | { kind: 'deleted' }) {
    let stored: StoredMessage | undefined;
    try {
      stored = await changeMessage(db, { ...what, messageId: id, actorId: actor.id, clientKey: key }, numbering.inCommit);
    } catch (error) {
      const winner = isUniqueViolation(error, 'message_changes_client_key') ? await repeated(actor, key, id) : undefined;
      if (winner) return winner;
      throw error;
    }
    if (!stored) return undefined;
    await settle(stored);
    return stored.message;
  }

  /** Message `raw` if `actor` may see it; 404 (never 403) otherwise, so ids reveal nothing. */
  async function changeable(actor: Actor, raw: unknown) {
    const found = await findChangeable(db, actor.id, parseInput(messageId, raw, 'invalid message id'));
    if (!found) throw notFound('message');
    return found;
  }

  /** The original of a retried send, if the sender's key already stored one. */
  const original = async (actor: Actor, key: string | null) => (key === null ? undefined : await findMessageByClientKey(db, actor.id, key));

  /** The error for a send whose target check failed: no such recipient, no such room, or not a member. */
  async function whyRefused(roomId: string | null | undefined) {
    if (roomId == null) return notFound('recipient');
    return (await findRoom(db, roomId)) ? forbidden('you are not a member of this room') : notFound('room');
  }

  return {
    inputSchema: sendSchema,
    async send(actor, raw, opts = {}) {
      requireScope(actor, 'messages:write');
      const input = parseInput(sendSchema, raw, 'invalid message');
      if (input.sender != null && !isSameUser(actor, input.sender)) {
        throw forbidden('you can only send messages as yourself');
      }
      // Counted per attempt, before anything is read or stored (a retried key counts too).
      await deps.rateLimit?.consume(actor.id);
      const key = idempotencyKey(opts.idempotencyKey, input.client_msg_id);
      const earlier = await original(actor, key);
      if (earlier) return { message: earlier, duplicate: true };

      let stored: StoredMessage | undefined;
      try {
        stored = await storeMessage(
          db,
          {
            sender_id: actor.id,
            target: targetOf(input),
            content: input.content,
            client_msg_id: key,
            reply_to: input.reply_to ?? null,
            attachments: input.attachments ?? [],
          },
          numbering.inCommit,
        );
      } catch (error) {
        // The same answer whether the message replied to does not exist or lies elsewhere: ids reveal nothing.
        if (isCheckViolation(error, 'messages_reply_conversation')) {
          throw invalid('invalid message', [{ field: 'reply_to', message: 'must be a message of the same conversation' }]);
        }
        // Someone else's upload, one already attached, or none at all: one answer for all, ids reveal nothing.
        if (isCheckViolation(error, 'messages_attachments')) {
          throw invalid('invalid message', [{ field: 'attachments', message: 'must be your own uploads that no message carries yet' }]);
        }
        // A concurrent duplicate won the race; its row stands, ours rolled back.
        const winner = isUniqueViolation(error, 'messages_client_msg_key') ? await original(actor, key) : undefined;
        if (winner) return { message: winner, duplicate: true };
        // A valid token whose user is gone (deleted, or never existed in this database).
        if (isForeignKeyViolation(error, 'messages_sender_id_fkey')) throw unauthenticated('user no longer exists');
        throw error;
      }
      if (!stored) throw await whyRefused(input.room_id);
      await settle(stored);
      return { message: stored.message, duplicate: false };
    },

    editSchema,
    async edit(actor, rawId, raw, opts = {}) {
      requireScope(actor, 'messages:write');
      const input = parseInput(editSchema, raw, 'invalid edit');
      // Edits count as sends, per attempt (a retried key counts too).
      await deps.rateLimit?.consume(actor.id);
      const key = idempotencyKey(opts.idempotencyKey, input.client_msg_id);
      const found = await changeable(actor, rawId);
      const earlier = await repeated(actor, key, found.id);
      if (earlier) return earlier;
      if (!isSameUser(actor, found.senderId)) throw forbidden('you can only edit your own messages');
      if (found.deleted) throw conflict('the message was deleted');
      const windowMs = deps.editWindowMs ?? 0;
      if (windowMs > 0 && Date.now() - found.createdAt.getTime() > windowMs) {
        throw forbidden(`messages can only be edited within ${Math.round(windowMs / 1000)} s of sending`);
      }
      const stored = await change(actor, key, found.id, { kind: 'updated', content: input.content });
      if (!stored) throw conflict('the message was deleted');
      return stored;
    },

    async remove(actor, rawId, raw = {}, opts = {}) {
      requireScope(actor, 'messages:write');
      const input = parseInput(deleteMessageInput, raw, 'invalid deletion');
      const key = idempotencyKey(opts.idempotencyKey, input.client_msg_id);
      const found = await changeable(actor, rawId);
      const earlier = await repeated(actor, key, found.id);
      if (earlier) return earlier;
      if (!isSameUser(actor, found.senderId) && found.roomCreatorId !== actor.id) {
        throw forbidden("only the sender, or the room's creator, can delete a message");
      }
      const stored = found.deleted ? undefined : await change(actor, key, found.id, { kind: 'deleted' });
      if (stored) {
        if (found.files > 0) deps.filesDeleted?.();
        return stored;
      }
      // Already deleted (now or by a concurrent request): the tombstone, as the first answer gave it.
      return current(found.id);
    },

    async react(actor, rawId, raw, opts = {}) {
      requireScope(actor, 'messages:write');
      const input = parseInput(reactInput, raw, 'invalid reaction');
      await deps.reactionRateLimit?.consume(actor.id);
      const key = idempotencyKey(opts.idempotencyKey, input.client_msg_id);
      const found = await changeable(actor, rawId);
      const earlier = await repeated(actor, key, found.id);
      if (earlier) return earlier;
      if (found.deleted) throw conflict('the message was deleted');
      let reacted;
      try {
        reacted = await reactMessage(
          db,
          { messageId: found.id, userId: actor.id, emoji: input.emoji, add: input.add, maxDistinct: deps.maxDistinctReactions ?? 20, clientKey: key },
          numbering.inCommit,
        );
      } catch (error) {
        if (isCheckViolation(error, 'message_reactions_cap')) throw conflict('too many different reactions on this message');
        const winner = isUniqueViolation(error, 'message_changes_client_key') ? await repeated(actor, key, found.id) : undefined;
        if (winner) return winner;
        throw error;
      }
      if (!reacted) throw conflict('the message was deleted');
      if (reacted.changed) await settle(reacted);
      return reacted.message;
    },

    async listReplies(actor, rawId, page) {
      requireScope(actor, 'messages:read');
      const found = await changeable(actor, rawId);
      return pageOrWhy(db, actor, page, await listReplies(db, found.replyTo ?? found.id, actor.id, page));
    },

    async listVisible(actor, page) {
      requireScope(actor, 'messages:read');
      return pageOrWhy(db, actor, page, await listVisibleMessages(db, actor.id, page));
    },

    async listBetween(actor, user1, user2, page) {
      requireScope(actor, 'messages:read');
      // Refuse before looking anything up, so outsiders learn nothing about who exists.
      if (!isSameUser(actor, user1) && !isSameUser(actor, user2)) {
        throw forbidden('you can only read your own conversations');
      }
      const [a, b] = await findUsersByNameOrId(db, [user1, user2]);
      if (!a || !b) throw notFound('user');
      return pageOrWhy(db, actor, page, await listDirectMessages(db, a.id, b.id, actor.id, page));
    },
  };
}

function targetOf(input: { recipient?: string | null | undefined; room_id?: string | null | undefined }): MessageTarget {
  if (input.recipient != null) return { kind: 'user', ...userRef(input.recipient) };
  return input.room_id != null ? { kind: 'room', roomId: input.room_id } : { kind: 'global' };
}

/** REST's header and a body's `client_msg_id` name the same key; both must agree when both are given. */
function idempotencyKey(header: string | undefined, field: string | null | undefined): string | null {
  if (header === undefined) return field ?? null;
  const key = parseInput(clientMsgId, header, 'invalid Idempotency-Key header');
  if (field != null && field !== key) {
    throw invalid('invalid message', [{ field: 'client_msg_id', message: 'differs from the Idempotency-Key header' }]);
  }
  return key;
}
