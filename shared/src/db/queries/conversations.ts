import { sql, type CompiledQuery, type RawBuilder } from 'kysely';
import { conversationId, type ConversationKind, type ConversationRef } from '../../model/conversation.ts';
import type { Executor } from '../database.ts';
import { directPairsSql } from './messages.ts';

/*
 * A user's conversations and how far they have read each. Nothing here is
 * written on the send path: a conversation's last activity is its newest
 * message, one probe of the history index the conversation already pages
 * with (messages_global_idx, messages_room_idx, messages_dm_pair_idx), and an
 * unread count is a range of the same index after the read position, cut at
 * the cap. So a list page costs one probe per conversation of the user, then
 * one short range per conversation on the page, however much history there is.
 */

/** Messages `m` of the global conversation. */
const globalMessages = sql`m.recipient_id is null and m.room_id is null`;
/** Messages `m` of room `room` (an expression). */
const roomMessages = (room: RawBuilder<unknown>) => sql`m.room_id = ${room}`;
/** Messages `m` between users `a` and `b` (expressions), either way: the messages_dm_pair_idx expressions. */
const pairMessages = (a: RawBuilder<unknown>, b: RawBuilder<unknown>) =>
  sql`m.recipient_id is not null and least(m.sender_id, m.recipient_id) = least(${a}, ${b}) and greatest(m.sender_id, m.recipient_id) = greatest(${a}, ${b})`;

/** The index order of every history index, for a probe or a range of it. */
const NEWEST_FIRST = sql`order by m.created_at desc, m.id desc`;

/** Below every message id: with '-infinity', a position before everything. */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export interface ConversationRow {
  id: string;
  kind: ConversationKind;
  target: string | null;
  title: string;
  updated_at: Date;
  last_id: string | null;
  read_id: string | null;
  /** Unread messages, counted up to cap + 1. */
  unread: number;
}

/** Where a conversation page starts: after the conversation at (updated_at, id), newest first. */
export interface ConversationCursor {
  at: Date;
  id: string;
}

/**
 * One page of `userId`'s conversations, most recently active first, plus one
 * row that tells whether there is more. Unread: messages of others, not
 * deleted, after the read position; without one, after the user joined (a
 * room), was created (global), or all of them (a direct conversation).
 */
export function conversationPageQuery(
  db: Executor,
  userId: string,
  page: { limit: number; before?: ConversationCursor | undefined },
  unreadCap: number,
): CompiledQuery<ConversationRow> {
  const me = sql`${userId}::uuid`;
  const newest = (where: RawBuilder<unknown>) =>
    sql`left join lateral (select m.created_at, m.id from messages m where ${where} ${NEWEST_FIRST} limit 1) l on true`;
  const before = page.before === undefined ? sql`true` : sql`(c.updated_at, c.id) < (${page.before.at}::timestamptz, ${page.before.id})`;
  // Unread after the position (cr) or the start (`since`), by others, standing; at most cap + 1 index entries read.
  const unread = (where: RawBuilder<unknown>) => sql`(select count(*)::int from (
      select 1 from messages m
      where ${where}
        and (m.created_at, m.id) > (coalesce(cr.message_created_at, p.since), coalesce(cr.message_id, ${NIL_UUID}::uuid))
        and m.sender_id <> ${me} and m.deleted_at is null
      ${NEWEST_FIRST} limit ${unreadCap + 1}) u)`;
  // Titles are read for the page's rows only.
  return sql<ConversationRow>`
    with candidates as materialized (
      select 'global' as id, 'global' as kind, null::uuid as target, l.created_at as last_at, l.id as last_id, me.created_at as since
      from users me ${newest(globalMessages)}
      where me.id = ${me}
      union all
      select 'room:' || rm.room_id, 'room', rm.room_id, l.created_at, l.id, rm.joined_at
      from room_members rm ${newest(roomMessages(sql`rm.room_id`))}
      where rm.user_id = ${me}
      union all
      select 'user:' || p.partner, 'direct', p.partner, p.last_at, p.last_id, '-infinity'::timestamptz
      from (${directPairsSql(userId)}) p
    ),
    page as materialized (
      select * from (select *, coalesce(last_at, since) as updated_at from candidates) c
      where ${before}
      order by c.updated_at desc, c.id desc
      limit ${page.limit + 1}
    )
    select p.id, p.kind, p.target, p.updated_at, p.last_id, cr.message_id as read_id,
      case p.kind
        when 'global' then 'global'
        when 'room' then (select name from rooms where id = p.target)
        else (select username from users where id = p.target)
      end as title,
      case p.kind
        when 'global' then ${unread(globalMessages)}
        when 'room' then ${unread(roomMessages(sql`p.target`))}
        else ${unread(pairMessages(me, sql`p.target`))}
      end as unread
    from page p
    left join conversation_reads cr on cr.user_id = ${me} and cr.conversation = p.id
    order by p.updated_at desc, p.id desc`.compile(db);
}

export async function listConversations(
  db: Executor,
  userId: string,
  page: { limit: number; before?: ConversationCursor | undefined },
  unreadCap: number,
): Promise<ConversationRow[]> {
  const { rows } = await db.executeQuery(conversationPageQuery(db, userId, page, unreadCap));
  return rows;
}

/** Messages `m` of conversation `ref` that `userId` may see (a room: only while a member). */
function visibleIn(userId: string, ref: ConversationRef): RawBuilder<unknown> {
  if (ref.kind === 'global') return globalMessages;
  if (ref.kind === 'direct') return pairMessages(sql`${userId}::uuid`, sql`${ref.userId}::uuid`);
  return sql`${roomMessages(sql`${ref.roomId}::uuid`)} and exists (select 1 from room_members where room_id = ${ref.roomId} and user_id = ${userId})`;
}

export interface MarkedRead {
  /** The position now (later than the one asked for, when the user had read further already). */
  messageId: string;
  updatedAt: Date;
  /** Whether this call moved it. */
  moved: boolean;
}

/**
 * Moves `userId`'s read position in `ref` to `messageId`, if that message is
 * in the conversation, visible to them, and later than the position; one
 * statement. Undefined when the message is not one they may see there.
 */
export async function markRead(db: Executor, userId: string, ref: ConversationRef, messageId: string): Promise<MarkedRead | undefined> {
  const conversation = conversationId(ref);
  const { rows } = await sql<{ message_id: string; updated_at: Date; moved: boolean }>`
    with target as materialized (
      select m.id, m.created_at from messages m where m.id = ${messageId} and ${visibleIn(userId, ref)}
    ), moved as (
      insert into conversation_reads as cr (user_id, conversation, message_id, message_created_at)
      select ${userId}, ${conversation}, id, created_at from target
      on conflict (user_id, conversation) do update
        set message_id = excluded.message_id, message_created_at = excluded.message_created_at, updated_at = now()
        where (cr.message_created_at, cr.message_id) < (excluded.message_created_at, excluded.message_id)
      returning message_id, updated_at
    )
    select message_id, updated_at, true as moved from moved
    union all
    select cr.message_id, cr.updated_at, false from conversation_reads cr
    where cr.user_id = ${userId} and cr.conversation = ${conversation} and exists (select 1 from target) and not exists (select 1 from moved)`.execute(
    db,
  );
  const row = rows[0];
  return row && { messageId: row.message_id, updatedAt: row.updated_at, moved: row.moved };
}

export interface ReadRow {
  user_id: string;
  username: string;
  message_id: string | null;
  updated_at: Date | null;
}

/** Room `roomId`'s members after `after` (by id), each with their read position; one extra row says whether there is more. */
export async function listRoomReads(db: Executor, roomId: string, page: { limit: number; after?: string | undefined }): Promise<ReadRow[]> {
  const { rows } = await sql<ReadRow>`
    select rm.user_id, u.username, cr.message_id, cr.updated_at
    from room_members rm
    join users u on u.id = rm.user_id
    left join conversation_reads cr on cr.user_id = rm.user_id and cr.conversation = ${`room:${roomId}`}
    where rm.room_id = ${roomId} and rm.user_id > ${page.after ?? NIL_UUID}
    order by rm.user_id
    limit ${page.limit + 1}`.execute(db);
  return rows;
}

/** Both sides of the direct conversation of `a` and `b` (one row if a = b), each with their read position. */
export async function listDirectReads(db: Executor, a: string, b: string): Promise<ReadRow[]> {
  const { rows } = await sql<ReadRow>`
    select u.id as user_id, u.username, cr.message_id, cr.updated_at
    from users u
    left join conversation_reads cr on cr.user_id = u.id and cr.conversation = 'user:' || (case when u.id = ${a}::uuid then ${b}::uuid else ${a}::uuid end)
    where u.id in (${a}, ${b})
    order by u.id`.execute(db);
  return rows;
}

/** Members of room `roomId`, counted no further than `upTo` + 1. */
export async function countRoomMembers(db: Executor, roomId: string, upTo: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from (select 1 from room_members where room_id = ${roomId} limit ${upTo + 1}) c`.execute(db);
  return rows[0]?.n ?? 0;
}
