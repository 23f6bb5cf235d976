import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { insertMessage, listDirectMessages, listVisibleMessages } from '../db/queries/messages.ts';
import { findRoom, isMember } from '../db/queries/rooms.ts';
import { forbidden, notFound } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import { parseInput } from '../validation.ts';
import { findUserByNameOrId, isSameUser } from './lookup.ts';
import { checkCursor } from './pages.ts';
import { sendMessageInput } from './schemas.ts';
import type { Actor, ChatMessage, Page, PageResult } from '../model/index.ts';

export interface MessageService {
  /** The one write path: REST, Socket.IO and plain WebSocket all send through here. */
  send(actor: Actor, input: unknown): Promise<ChatMessage>;
  listVisible(actor: Actor, page: Page): Promise<PageResult<ChatMessage>>;
  /** `user1` and `user2` are usernames or ids; the actor must be one of them. */
  listBetween(actor: Actor, user1: string, user2: string, page: Page): Promise<PageResult<ChatMessage>>;
}

export function createMessageService(deps: {
  db: Kysely<DB>;
  events: EventPublisher;
  maxMessageLength: number;
}): MessageService {
  const { db, events } = deps;
  const sendSchema = sendMessageInput(deps.maxMessageLength);

  return {
    async send(actor, raw) {
      const input = parseInput(sendSchema, raw, 'invalid message');
      if (input.sender != null && !isSameUser(actor, input.sender)) {
        throw forbidden('you can only send messages as yourself');
      }
      let recipientId: string | null = null;
      const message = await db.transaction().execute(async (trx) => {
        if (input.recipient != null) {
          const recipient = await findUserByNameOrId(trx, input.recipient);
          if (!recipient) throw notFound('recipient');
          recipientId = recipient.id;
        } else if (input.room_id != null) {
          if (!(await findRoom(trx, input.room_id))) throw notFound('room');
          if (!(await isMember(trx, input.room_id, actor.id, { lock: true }))) throw forbidden('you are not a member of this room');
        }
        return insertMessage(trx, {
          sender_id: actor.id,
          recipient_id: recipientId,
          room_id: input.room_id ?? null,
          content: input.content,
        });
      });
      // Only after the commit: subscribers must never see a message that could still roll back.
      events.messageCreated(message, { senderId: actor.id, recipientId });
      return message;
    },

    async listVisible(actor, page) {
      return listVisibleMessages(db, actor.id, await checkCursor(db, page));
    },

    async listBetween(actor, user1, user2, page) {
      // Refuse before looking anything up, so outsiders learn nothing about who exists.
      if (!isSameUser(actor, user1) && !isSameUser(actor, user2)) {
        throw forbidden('you can only read your own conversations');
      }
      await checkCursor(db, page);
      const [a, b] = await Promise.all([findUserByNameOrId(db, user1), findUserByNameOrId(db, user2)]);
      if (!a || !b) throw notFound('user');
      return listDirectMessages(db, a.id, b.id, page);
    },
  };
}
