import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import {
  countRoomMembers,
  listConversations,
  listDirectReads,
  listRoomReads,
  markRead,
  type ConversationCursor,
  type ReadRow,
} from '../db/queries/conversations.ts';
import { findMessages } from '../db/queries/messages.ts';
import { findRoomAsMember, listMembers } from '../db/queries/rooms.ts';
import { findUserById } from '../db/queries/users.ts';
import { DomainError, forbidden, invalid, notFound } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import { rooms } from '../events/rooms.ts';
import type { Limiter } from '../limits/rate-limits.ts';
import type { Throttle } from '../limits/throttle.ts';
import {
  conversationId,
  type Actor,
  type ChatMessage,
  type ConversationRef,
  type ConversationSummary,
  type PageResult,
  type ReadPosition,
} from '../model/index.ts';
import type { PresenceReader } from '../presence/reader.ts';
import { parseInput } from '../validation.ts';
import { conversationListQuery, conversationRef, readCommandInput, readInput, readsPageQuery, typingInput } from './schemas.ts';
import { requireScope } from '../auth/scopes.ts';

/** Unread counts stop here (`unread_capped`): a badge says "99+", and the count stays a short index range. */
const UNREAD_CAP = 100;
/** How long a `typing` signal holds unless it comes again: clients refresh it every TYPING_INTERVAL while typing. */
const TYPING_TTL_MS = 6_000;
/** At most one `typing` per user per conversation this often, cluster-wide; the rest are dropped quietly. */
export const TYPING_INTERVAL_MS = 2_000;

export interface MemberRead {
  user_id: string;
  username: string;
  message_id: string | null;
  updated_at: string | null;
}

export interface ConversationService {
  /** The actor's conversations, most recently active first (`before`: the previous page's next_cursor). */
  list(actor: Actor, query: unknown): Promise<PageResult<ConversationSummary<ChatMessage>>>;
  /**
   * Moves the actor's read position in a conversation forward to a message of
   * it they may see (never back: an older message answers the position as it
   * stands). A move reaches the actor's connections as `read`, the other side
   * of a direct conversation as `read_receipt`, and the members of a room of
   * at most READ_RECEIPTS_MAX_MEMBERS too. Counted against READ_RATE_LIMIT.
   */
  markRead(actor: Actor, conversation: unknown, input: unknown): Promise<ReadPosition>;
  /** The socket `read` command: `{conversation, message_id}` in one input. */
  markReadCommand(actor: Actor, input: unknown): Promise<ReadPosition>;
  /** Members' read positions in a room (a page, by user id) or both sides of a direct conversation. */
  reads(actor: Actor, conversation: unknown, query: unknown): Promise<PageResult<MemberRead>>;
  /**
   * "I am typing": forwarded to the conversation's other members as `typing`
   * at most once per TYPING_INTERVAL per user and conversation (the rest
   * are dropped quietly: `forwarded: false`); never stored. Only where the
   * actor may send, never in `global`. Counted against TYPING_RATE_LIMIT.
   */
  typing(actor: Actor, input: unknown): Promise<{ forwarded: boolean }>;
  /** Who of a room's members is online now (members only). */
  roomPresence(actor: Actor, roomId: string): Promise<{ room_id: string; online: Array<{ id: string; username: string }> }>;
}

/** A page cursor of the list: the last conversation's (updated_at, id), opaque to clients. */
const encodeCursor = (c: ConversationCursor) => Buffer.from(JSON.stringify([c.at.toISOString(), c.id])).toString('base64url');

function decodeCursor(text: string): ConversationCursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString()) as unknown[];
    const date = new Date(typeof at === 'string' ? at : Number.NaN);
    if (typeof id === 'string' && id.length <= 60 && !Number.isNaN(date.getTime())) return { at: date, id };
  } catch {
    // answered below
  }
  throw invalid('invalid query', [{ field: 'before', message: 'must be a next_cursor of this listing' }]);
}

const presentRead = (row: ReadRow): MemberRead => ({
  user_id: row.user_id,
  username: row.username,
  message_id: row.message_id,
  updated_at: row.updated_at?.toISOString() ?? null,
});

export function createConversationService(deps: {
  db: Kysely<DB>;
  events: Pick<EventPublisher, 'signal'>;
  presence: Pick<PresenceReader, 'onlineAmong'>;
  /** READ_RECEIPTS_MAX_MEMBERS: rooms up to this size get read receipts. */
  receiptsMaxMembers: number;
  /** READ_RATE_LIMIT and TYPING_RATE_LIMIT per user; none in tests that build the service bare. */
  readLimit?: Limiter;
  typingLimit?: Limiter;
  /** One `typing` per user and conversation per TYPING_INTERVAL_MS, cluster-wide. */
  typingThrottle: Throttle;
}): ConversationService {
  const { db, events } = deps;

  const parseRef = (raw: unknown) => parseInput(conversationRef, raw, 'invalid conversation');

  /** A conversation the actor may act in: a room they are in (403, or 404 for no such room), a user who exists. */
  async function ensureMember(actor: Actor, ref: ConversationRef) {
    if (ref.kind === 'room') {
      const found = await findRoomAsMember(db, ref.roomId, actor.id);
      if (!found) throw notFound('room');
      if (!found.member) throw forbidden('you are not a member of this room');
    } else if (ref.kind === 'direct' && ref.userId !== actor.id && !(await findUserById(db, ref.userId))) {
      throw notFound('user');
    }
  }

  /** Who hears that `actor` read `ref` up to `messageId`. */
  async function announceRead(actor: Actor, ref: ConversationRef, messageId: string) {
    const conversation = conversationId(ref);
    events.signal([rooms.user(actor.id)], 'read', { conversation, message_id: messageId });
    const receipt = { user: actor.id, username: actor.username, message_id: messageId };
    if (ref.kind === 'direct' && ref.userId !== actor.id) {
      // The other side names the conversation by the reader.
      events.signal([rooms.user(ref.userId)], 'read_receipt', { ...receipt, conversation: conversationId({ kind: 'direct', userId: actor.id }) });
    } else if (ref.kind === 'room' && (await countRoomMembers(db, ref.roomId, deps.receiptsMaxMembers)) <= deps.receiptsMaxMembers) {
      events.signal([rooms.room(ref.roomId)], 'read_receipt', { ...receipt, conversation });
    }
  }

  async function markReadIn(actor: Actor, ref: ConversationRef, messageId: string): Promise<ReadPosition> {
    requireScope(actor, 'messages:write');
    await deps.readLimit?.consume(actor.id);
    const marked = await markRead(db, actor.id, ref, messageId);
    if (!marked) {
      // Why: not a member, no such room or user, or a message that is not in this conversation (ids reveal nothing).
      await ensureMember(actor, ref);
      throw notFound('message');
    }
    if (marked.moved) {
      // Best effort: the position is stored; a lost signal is set right by the next list read.
      await announceRead(actor, ref, marked.messageId).catch(() => undefined);
    }
    return { conversation: conversationId(ref), message_id: marked.messageId, updated_at: marked.updatedAt.toISOString() };
  }

  return {
    async list(actor, raw) {
      requireScope(actor, 'messages:read');
      const query = parseInput(conversationListQuery, raw, 'invalid query');
      const before = query.before === undefined ? undefined : decodeCursor(query.before);
      const rows = await listConversations(db, actor.id, { limit: query.limit, before }, UNREAD_CAP);
      const page = rows.slice(0, query.limit);
      const partners = page.filter((r) => r.kind === 'direct' && r.target !== null).map((r) => r.target as string);
      const [messages, online] = await Promise.all([
        findMessages(
          db,
          page.flatMap((r) => (r.last_id === null ? [] : [r.last_id])),
        ),
        // Presence is best effort here as everywhere: Redis away leaves `online` false, not the list failing.
        deps.presence.onlineAmong(partners).catch(() => new Set<string>()),
      ]);
      const items = page.map((r): ConversationSummary<ChatMessage> => ({
        id: r.id,
        kind: r.kind,
        title: r.title,
        last_message: (r.last_id !== null && messages.get(r.last_id)) || null,
        unread_count: Math.min(r.unread, UNREAD_CAP),
        unread_capped: r.unread > UNREAD_CAP,
        read_up_to: r.read_id,
        updated_at: r.updated_at.toISOString(),
        online: r.kind === 'direct' && r.target !== null ? online.has(r.target) : null,
      }));
      const last = page.at(-1);
      return { items, nextCursor: rows.length > query.limit && last ? encodeCursor({ at: last.updated_at, id: last.id }) : null };
    },

    async markRead(actor, rawConversation, raw) {
      const ref = parseRef(rawConversation);
      const input = parseInput(readInput, raw, 'invalid read');
      return markReadIn(actor, ref, input.message_id);
    },

    async markReadCommand(actor, raw) {
      const input = parseInput(readCommandInput, raw, 'invalid read');
      return markReadIn(actor, input.conversation, input.message_id);
    },

    async reads(actor, rawConversation, raw) {
      requireScope(actor, 'messages:read');
      const ref = parseRef(rawConversation);
      const query = parseInput(readsPageQuery, raw, 'invalid query');
      if (ref.kind === 'global') throw new DomainError('bad_request', 'read positions are listed for rooms and direct conversations, not global');
      await ensureMember(actor, ref);
      if (ref.kind === 'direct') return { items: (await listDirectReads(db, actor.id, ref.userId)).map(presentRead), nextCursor: null };
      const rows = await listRoomReads(db, ref.roomId, query);
      const items = rows.slice(0, query.limit).map(presentRead);
      return { items, nextCursor: rows.length > query.limit ? (items.at(-1)?.user_id ?? null) : null };
    },

    async typing(actor, raw) {
      requireScope(actor, 'messages:write');
      const input = parseInput(typingInput, raw, 'invalid typing');
      const ref = input.conversation;
      if (ref.kind === 'global') throw new DomainError('bad_request', 'typing is not signalled in global');
      await deps.typingLimit?.consume(actor.id);
      // Checked before the throttle: a room left a second ago must refuse, not drop quietly.
      await ensureMember(actor, ref);
      // Notes to oneself have no one else to tell.
      if (ref.kind === 'direct' && ref.userId === actor.id) return { forwarded: false };
      const conversation = conversationId(ref);
      if (!(await deps.typingThrottle.pass(`${actor.id}:${conversation}`))) return { forwarded: false };
      const signal = { user: actor.id, username: actor.username, expires_at: new Date(Date.now() + TYPING_TTL_MS).toISOString() };
      if (ref.kind === 'room') events.signal([rooms.room(ref.roomId)], 'typing', { ...signal, conversation });
      else events.signal([rooms.user(ref.userId)], 'typing', { ...signal, conversation: conversationId({ kind: 'direct', userId: actor.id }) });
      return { forwarded: true };
    },

    async roomPresence(actor, roomId) {
      requireScope(actor, 'messages:read');
      await ensureMember(actor, { kind: 'room', roomId });
      const members = await listMembers(db, roomId);
      const online = await deps.presence.onlineAmong(members.map((m) => m.id));
      return { room_id: roomId, online: members.filter((m) => online.has(m.id)).map((m) => ({ id: m.id, username: m.username })) };
    },
  };
}
