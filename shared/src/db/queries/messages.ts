import { randomUUID } from 'node:crypto';
import { sql, type CompiledQuery, type RawBuilder } from 'kysely';
import type { ChatMessage, LogEntryKind, LoggedMessage } from '../../model/message.ts';
import type { Page, PageResult } from '../../model/page.ts';
import type { Executor } from '../database.ts';

type ViewRow = {
  id: string;
  sender: string;
  recipient: string | null;
  room_id: string | null;
  content: string;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
  reactions: ChatMessage['reactions'];
  reply_to: string | null;
  reply_count: number;
  last_reply_at: Date | null;
  attachments: ChatMessage['attachments'];
};

/** Exactly the client-visible fields, whatever else the row carries. */
const toChatMessage = (row: ViewRow): ChatMessage => ({
  id: row.id,
  sender: row.sender,
  recipient: row.recipient,
  room_id: row.room_id,
  content: row.content,
  created_at: row.created_at.toISOString(),
  edited_at: row.edited_at?.toISOString() ?? null,
  deleted_at: row.deleted_at?.toISOString() ?? null,
  reactions: row.reactions,
  reply_to: row.reply_to,
  reply_count: row.reply_count,
  last_reply_at: row.last_reply_at?.toISOString() ?? null,
  attachments: row.attachments,
});

/** A message as clients see it (ViewRow), for rows of `messages m`. */
const viewColumns = sql`m.id, m.room_id, m.content, m.created_at, m.edited_at, m.deleted_at, m.reactions,
  m.reply_to, m.reply_count, m.last_reply_at, m.attachments,
  (select username from users where id = m.sender_id) as sender,
  (select username from users where id = m.recipient_id) as recipient`;

/** The relation a read goes through: messages (history), or the log of messages and their changes (`log_entries`, replay). */
type Source = 'messages' | 'log_entries';
const from = (source: Source) => sql.table(source);

/*
 * Every read of "what a user may see" below is a union of audiences, each an
 * index range read in the order of the result and cut at the page size, so no
 * read grows with the table:
 *
 * - direct: global messages (messages_global_*), direct messages the user sent
 *   (messages_dm_sender_*) and those sent to them by others
 *   (messages_dm_recipient_*; a message to oneself is read as sent only);
 * - rooms: one range per room the user is in (messages_room_*), at most
 *   MAX_ROOMS_PER_USER of them.
 *
 * Reading a whole page from every room would cost up to 100 pages for one.
 * So the rooms are read in two steps. First a sample: the first few rows of
 * each room, enough over all the user's rooms to fill a page. The page-th row
 * of the direct audiences and that sample together is a bound no row of the
 * page lies beyond, since a full page of visible rows already lies within it.
 * Then each room is read up to that bound only: with any steady traffic, a few
 * rows per room. (Without one, a full page per room, as the worst case.)
 */

/** The direct audiences, `columns` of each (rows `m` of `source`) that satisfy `tail` (a condition, then an order and a limit). */
const directAudiences = (userId: string, columns: RawBuilder<unknown>, tail: RawBuilder<unknown>, source: Source = 'messages') => sql`
  (select ${columns} from ${from(source)} m where m.recipient_id is null and m.room_id is null and ${tail})
  union all
  (select ${columns} from ${from(source)} m where m.sender_id = ${userId} and m.recipient_id is not null and ${tail})
  union all
  (select ${columns} from ${from(source)} m where m.recipient_id = ${userId} and m.sender_id <> ${userId} and ${tail})`;

/** For each room the user is in, `columns` of its rows (`m` of `source`) that satisfy `tail`. */
const eachRoom = (userId: string, columns: RawBuilder<unknown>, tail: RawBuilder<unknown>, source: Source = 'messages') => sql`
  select ${columns} from room_members rm
  cross join lateral (select ${columns} from ${from(source)} m where m.room_id = rm.room_id and ${tail}) m
  where rm.user_id = ${userId}`;

/** The sample's share of each room: `take` over the user's rooms, rounded up. */
const perRoom = (userId: string, take: number) =>
  sql`(select ceil(${take}::numeric / greatest(count(*), 1))::int from room_members where user_id = ${userId})`;

/** Below every message id: with '-infinity', a bound that excludes nothing. */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Whether `userId` may see message `m`: global, sent or received by them, or in one of their rooms. */
const visibleTo = (userId: string) => sql`(
  (m.recipient_id is null and m.room_id is null)
  or m.sender_id = ${userId} or m.recipient_id = ${userId}
  or m.room_id in (select room_id from room_members where user_id = ${userId}))`;

/**
 * One page of history, newest first, keyed by (created_at, id); one extra row
 * tells whether another page exists.
 *
 * `candidates(older, take)` gives rows of `messages` (as `m.*`) that hold the
 * page: branches that each read an index range newest first, cut at the cursor
 * by `older` and at `take` rows (see `newest`). The cursor message is looked up
 * once, visible to `viewer` only, and the usernames only for the rows of the page.
 */
function historyPage(
  db: Executor,
  viewer: string,
  page: Page,
  candidates: (older: RawBuilder<unknown>, take: number) => RawBuilder<unknown>,
): CompiledQuery<ViewRow> {
  const take = page.limit + 1;
  // A cursor the viewer may not see (or that names nothing) bounds nothing: the
  // page comes back empty, and only then does the caller ask why (pageOrWhy).
  const cursor =
    page.before === undefined
      ? sql``
      : sql`with cursor as materialized (select created_at, id from messages m where m.id = ${page.before} and ${visibleTo(viewer)})`;
  const older = page.before === undefined ? sql`true` : sql`(m.created_at, m.id) < (select created_at, id from cursor)`;
  return sql<ViewRow>`${cursor}
    select ${viewColumns}
    from (${candidates(older, take)}) m
    order by m.created_at desc, m.id desc
    limit ${take}`.compile(db);
}

/** `older`, then newest first, at most `take`: the order every history index is built in. */
const newest = (older: RawBuilder<unknown>, take: number | RawBuilder<unknown>) => sql`${older} order by m.created_at desc, m.id desc limit ${take}`;

async function paginate(db: Executor, query: CompiledQuery<ViewRow>, page: Page): Promise<PageResult<ChatMessage>> {
  const { rows } = await db.executeQuery(query);
  const items = rows.slice(0, page.limit).map(toChatMessage);
  const more = rows.length > page.limit;
  return { items, nextCursor: more ? (items.at(-1)?.id ?? null) : null };
}

type LogRow = ViewRow & { entry_id: string; seq: string; kind: LogEntryKind; sender_id: string; recipient_id: string | null };
/** A row a writer returns: its own entry may still be without a seq. */
type WrittenRow = Omit<LogRow, 'seq'> & { seq: string | null };

const toLogged = (row: LogRow): LoggedMessage => ({
  seq: Number(row.seq),
  kind: row.kind,
  senderId: row.sender_id,
  recipientId: row.recipient_id,
  message: toChatMessage(row),
});

/** The columns every log read returns: a log entry `e` (log_entries, or a writer's rows) and its message `m`. */
const entryColumns = sql`e.entry_id, e.seq, e.kind, m.sender_id, m.recipient_id, ${viewColumns}`;

/** Each entry `e` of a page already cut to size with its message `m`, looked up by id one at a time. */
const withMessage = sql`cross join lateral (select * from messages m where m.id = e.message_id) m`;

/** The rows `e` a writer function returns (entry_id, seq, kind, message), each with its message as `m`. */
const written = (call: RawBuilder<unknown>) => sql<WrittenRow>`
  select ${entryColumns} from ${call} e cross join lateral (select (e.message).*) m
  order by e.seq nulls last`;

/** What a writer's commit did: its own entry (`id`) and the entries it numbered. */
function writeResult(rows: WrittenRow[], id: string): StoredMessage | undefined {
  const own = rows.find((row) => row.entry_id === id);
  if (!own) return undefined;
  return { message: toChatMessage(own), numbered: rows.filter((row): row is LogRow => row.seq !== null).map(toLogged), pending: own.seq === null };
}

/** Where a message goes: everyone, one user (by lower-cased username or by id), or one room. */
export type MessageTarget = { kind: 'global' } | { kind: 'user'; username: string } | { kind: 'user'; id: string } | { kind: 'room'; roomId: string };

/** What `storeMessage` or `changeMessage` did: the message as clients see it now, and what the commit numbered in the log. */
export interface StoredMessage {
  message: ChatMessage;
  /** The log entries this commit numbered, in log order: the write's own among them unless `pending`. */
  numbered: LoggedMessage[];
  /** The write's own entry committed without a seq: the caller numbers it (`numberPending`). */
  pending: boolean;
}

/**
 * Stores a message in one statement that also checks its target (the
 * recipient exists, or the sender is a member of the room, the membership row
 * share-locked until the commit, so a concurrent removal waits for it), and,
 * when the log lock is free, numbers it in the same commit together with up
 * to `numberUpTo` pending messages (the `store_message` function of its
 * migration). One round trip, no transaction. Undefined when the target check
 * failed; the caller asks why, off the hot path.
 */
export async function storeMessage(
  db: Executor,
  message: {
    sender_id: string;
    target: MessageTarget;
    content: string;
    client_msg_id: string | null;
    reply_to?: string | null;
    /** Ready uploads of the sender that no message carries yet. */
    attachments?: readonly string[];
  },
  numberUpTo: number,
): Promise<StoredMessage | undefined> {
  const { target } = message;
  // The id is chosen here so the new row can be told from the others the commit numbered.
  const id = randomUUID();
  const recipientId = target.kind === 'user' && 'id' in target ? target.id : null;
  const recipientName = target.kind === 'user' && 'username' in target ? target.username : null;
  const roomId = target.kind === 'room' ? target.roomId : null;
  const { rows } = await written(
    sql`store_message(${id}, ${message.sender_id}, ${recipientId}, ${recipientName}, ${roomId}, ${message.content}, ${message.client_msg_id}, ${message.reply_to ?? null}, ${[...(message.attachments ?? [])]}::uuid[], ${numberUpTo})`,
  ).execute(db);
  return writeResult(rows, id);
}

/**
 * Edits (`updated`, with the new content) or deletes (`deleted`: the content
 * erased) a message that is not deleted, and logs the change: its own position
 * in the log, numbered in the same commit when the log lock is free, like
 * storeMessage (the `change_message` function of the message-changes
 * migration). Undefined when there is no such message or it is deleted.
 * Who may change it is the caller's rule.
 */
export async function changeMessage(
  db: Executor,
  change: ({ kind: 'updated'; content: string } | { kind: 'deleted' }) & { messageId: string; actorId: string; clientKey: string | null },
  numberUpTo: number,
): Promise<StoredMessage | undefined> {
  const id = randomUUID();
  const content = change.kind === 'updated' ? change.content : null;
  const { rows } = await written(
    sql`change_message(${id}, ${change.messageId}, ${change.kind}, ${content}, ${change.actorId}, ${change.clientKey}, ${numberUpTo})`,
  ).execute(db);
  return writeResult(rows, id);
}

/**
 * Adds or removes `userId`'s reaction `emoji` to a message that is not
 * deleted (`react_message` of the reactions migration): a change in the log
 * when it changes something; `changed` false (nothing logged) when the user
 * had already reacted so, or had not. Undefined when there is no such message
 * or it is deleted. Throws check_violation `message_reactions_cap` for a new
 * emoji beyond `maxDistinct`.
 */
export async function reactMessage(
  db: Executor,
  reaction: { messageId: string; userId: string; emoji: string; add: boolean; maxDistinct: number; clientKey: string | null },
  numberUpTo: number,
): Promise<(StoredMessage & { changed: boolean }) | undefined> {
  const id = randomUUID();
  const { messageId, userId, emoji, add, maxDistinct, clientKey } = reaction;
  const { rows } = await written(
    sql`react_message(${id}, ${messageId}, ${userId}, ${emoji}, ${add}, ${maxDistinct}, ${clientKey}, ${numberUpTo})`,
  ).execute(db);
  const unchanged = rows.find((row) => (row.kind as string) === 'unchanged');
  if (unchanged) return { message: toChatMessage(unchanged), numbered: [], pending: false, changed: false };
  const result = writeResult(rows, id);
  return result && { ...result, changed: true };
}

/** The message an actor's earlier change with this idempotency key changed, if there is one. */
export async function findChangeByClientKey(db: Executor, actorId: string, clientKey: string): Promise<{ messageId: string } | undefined> {
  const row = await db
    .selectFrom('message_changes')
    .select('message_id')
    .where('actor_id', '=', actorId)
    .where('client_key', '=', clientKey)
    .executeTakeFirst();
  return row && { messageId: row.message_id };
}

/**
 * Gives every committed message without a seq the next ones, in one locked
 * batch (the `sequence_messages` function of the delivery-log migration).
 * Run it on its own connection, not inside a transaction that holds other
 * locks: the batch commits on return.
 */
export async function numberPending(db: Executor, maxRows: number): Promise<LoggedMessage[]> {
  const { rows } = await written(sql`sequence_log(${maxRows})`).execute(db);
  return rows.filter((row): row is LogRow => row.seq !== null).map(toLogged);
}

/** Whether a message has waited longer than `ageMs` for its number: its sender died before numbering it. */
export async function hasStalePending(db: Executor, ageMs: number): Promise<boolean> {
  const { rows } = await sql<{ stale: boolean }>`
    select exists (
      select 1 from messages where seq is null and created_at < clock_timestamp() - make_interval(secs => ${ageMs / 1000})
    ) as stale`.execute(db);
  return rows[0]?.stale === true;
}

export async function findMessageByClientKey(db: Executor, senderId: string, clientMsgId: string): Promise<ChatMessage | undefined> {
  const { rows } = await sql<ViewRow>`
    select ${viewColumns} from messages m where m.sender_id = ${senderId} and m.client_msg_id = ${clientMsgId}`.execute(db);
  return rows[0] && toChatMessage(rows[0]);
}

/** The last seq of a committed message (0 for an empty log). */
export async function logHead(db: Executor): Promise<number> {
  const row = await db.selectFrom('message_log').select('head').executeTakeFirst();
  return Number(row?.head ?? 0);
}

/** Every committed log entry after `afterSeq`, in log order: what a gateway missed. */
export async function logAfter(db: Executor, afterSeq: number, limit: number): Promise<LoggedMessage[]> {
  const { rows } = await sql<LogRow>`
    select ${entryColumns} from (select * from log_entries where seq > ${afterSeq} order by seq limit ${limit}) e
    ${withMessage}
    order by e.seq`.execute(db);
  return rows.map(toLogged);
}

/** One room's log entries in (afterSeq, upToSeq], in log order (the room seq indexes). */
export async function roomLogAfter(db: Executor, roomId: string, afterSeq: number, upToSeq: number, limit: number): Promise<LoggedMessage[]> {
  const { rows } = await sql<LogRow>`
    select ${entryColumns}
    from (select * from log_entries where room_id = ${roomId} and seq > ${afterSeq} and seq <= ${upToSeq} order by seq limit ${limit}) e
    ${withMessage}
    order by e.seq`.execute(db);
  return rows.map(toLogged);
}

/** Whether `userId` may see the log entry at `seq` (false when there is none). */
export async function isVisibleAt(db: Executor, userId: string, seq: number): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`
    select exists (
      select 1 from log_entries m where m.seq = ${seq} and (
        (m.recipient_id is null and m.room_id is null)
        or m.sender_id = ${userId} or m.recipient_id = ${userId}
        or m.room_id in (select room_id from room_members where user_id = ${userId}))
    ) as ok`.execute(db);
  return rows[0]?.ok === true;
}

/** What the rules of a change read about message `id`, if `userId` may see it: who sent it, who created its room, whether it stands, its thread. */
export async function findChangeable(
  db: Executor,
  userId: string,
  id: string,
): Promise<
  { id: string; senderId: string; roomCreatorId: string | null; createdAt: Date; deleted: boolean; replyTo: string | null; files: number } | undefined
> {
  const { rows } = await sql<{
    id: string;
    sender_id: string;
    room_creator: string | null;
    created_at: Date;
    deleted: boolean;
    reply_to: string | null;
    files: number;
  }>`
    select m.id, m.sender_id, r.created_by as room_creator, m.created_at, m.deleted_at is not null as deleted, m.reply_to,
      jsonb_array_length(m.attachments) as files
    from messages m left join rooms r on r.id = m.room_id
    where m.id = ${id} and ${visibleTo(userId)}`.execute(db);
  const row = rows[0];
  return (
    row && {
      id: row.id,
      senderId: row.sender_id,
      roomCreatorId: row.room_creator,
      createdAt: row.created_at,
      deleted: row.deleted,
      replyTo: row.reply_to,
      files: row.files,
    }
  );
}

/** Several messages as clients see them, by id (absent ids are left out; no visibility check: the caller made one). */
export async function findMessages(db: Executor, ids: readonly string[]): Promise<Map<string, ChatMessage>> {
  if (ids.length === 0) return new Map();
  const { rows } = await sql<ViewRow>`select ${viewColumns} from messages m where m.id = any(${ids}::uuid[])`.execute(db);
  return new Map(rows.map((row) => [row.id, toChatMessage(row)]));
}

/** The message `id` as clients see it (no visibility check: the caller made one). */
export async function findMessage(db: Executor, id: string): Promise<ChatMessage | undefined> {
  const { rows } = await sql<ViewRow>`select ${viewColumns} from messages m where m.id = ${id}`.execute(db);
  return rows[0] && toChatMessage(rows[0]);
}

/** Whether message `id` exists and `userId` may see it (the same rule as listVisibleMessages). */
export async function messageVisibleTo(db: Executor, userId: string, id: string): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`select exists (select 1 from messages m where m.id = ${id} and ${visibleTo(userId)}) as ok`.execute(db);
  return rows[0]?.ok === true;
}

/**
 * The statements the history reads issue, compiled, so the plan tests can
 * EXPLAIN exactly what runs.
 */
export const historyQueries = {
  /** Global messages, the user's own direct messages and the messages of the user's rooms. */
  visible(db: Executor, userId: string, page: Page): CompiledQuery<ViewRow> {
    return historyPage(
      db,
      userId,
      page,
      (older, take) => sql`
        with direct as materialized (${directAudiences(userId, sql`m.*`, newest(older, take))}),
        sampled as materialized (${eachRoom(userId, sql`m.created_at, m.id`, newest(older, perRoom(userId, take)))}),
        bound as materialized (
          select created_at, id from (select created_at, id from direct union all select created_at, id from sampled) b
          order by created_at desc, id desc offset ${take - 1} limit 1
        )
        select * from direct
        union all
        ${eachRoom(
          userId,
          sql`m.*`,
          sql`(m.created_at, m.id) >= (coalesce((select created_at from bound), '-infinity'), coalesce((select id from bound), ${NIL_UUID}))
              and ${newest(older, take)}`,
        )}`,
    );
  },

  /** A thread's replies (messages_thread_idx); `viewer` must be able to see the page's cursor message. */
  replies(db: Executor, rootId: string, viewer: string, page: Page): CompiledQuery<ViewRow> {
    return historyPage(db, viewer, page, (older, take) => sql`select * from messages m where m.reply_to = ${rootId} and ${newest(older, take)}`);
  },

  room(db: Executor, roomId: string, viewer: string, page: Page): CompiledQuery<ViewRow> {
    return historyPage(db, viewer, page, (older, take) => sql`select * from messages m where m.room_id = ${roomId} and ${newest(older, take)}`);
  },

  /** Both directions of one conversation: the messages_dm_pair_idx expression index. */
  between(db: Executor, userA: string, userB: string, viewer: string, page: Page): CompiledQuery<ViewRow> {
    const [low, high] = userA < userB ? [userA, userB] : [userB, userA];
    return historyPage(
      db,
      viewer,
      page,
      (older, take) => sql`
        select * from messages m
        where m.recipient_id is not null
          and least(m.sender_id, m.recipient_id) = ${low} and greatest(m.sender_id, m.recipient_id) = ${high}
          and ${newest(older, take)}`,
    );
  },

  /** The log entries `userId` may see in (afterSeq, upToSeq], in log order, at most `limit`: what a resuming connection missed. */
  visibleAfter(db: Executor, userId: string, afterSeq: number, upToSeq: number, limit: number): CompiledQuery<LogRow> {
    const range = sql`m.seq > ${afterSeq} and m.seq <= ${upToSeq}`;
    return sql<LogRow>`
      with direct as materialized (${directAudiences(userId, sql`m.*`, sql`${range} order by m.seq limit ${limit}`, 'log_entries')}),
      sampled as materialized (${eachRoom(userId, sql`m.seq`, sql`${range} order by m.seq limit ${perRoom(userId, limit)}`, 'log_entries')}),
      bound as materialized (
        select seq from (select seq from direct union all select seq from sampled) b order by seq offset ${limit - 1} limit 1
      )
      select ${entryColumns} from (
        select * from (
          select * from direct
          union all
          ${eachRoom(
            userId,
            sql`m.*`,
            sql`${range} and m.seq <= coalesce((select seq from bound), ${upToSeq}) order by m.seq limit ${limit}`,
            'log_entries',
          )}
        ) v
        order by v.seq limit ${limit}
      ) e
      ${withMessage}
      order by e.seq`.compile(db);
  },

  /**
   * How many of those there are, counting no further than `limit`. Order does
   * not matter here: the branches are read one after the other, and the
   * reading stops at `limit` rows.
   */
  countVisibleAfter(db: Executor, userId: string, afterSeq: number, upToSeq: number, limit: number): CompiledQuery<{ n: number }> {
    const first = sql`m.seq > ${afterSeq} and m.seq <= ${upToSeq} order by m.seq limit ${limit}`;
    return sql<{ n: number }>`
      select count(*)::int as n from (
        select seq from (
          ${directAudiences(userId, sql`m.seq`, first, 'log_entries')}
          union all
          ${eachRoom(userId, sql`m.seq`, first, 'log_entries')}
        ) v
        limit ${limit}
      ) c`.compile(db);
  },
};

/** Global messages, the user's own direct messages and the messages of the user's rooms. */
export function listVisibleMessages(db: Executor, userId: string, page: Page) {
  return paginate(db, historyQueries.visible(db, userId, page), page);
}

/** The replies of thread `rootId`, newest first; the caller checked that `viewer` may see the root. */
export function listReplies(db: Executor, rootId: string, viewer: string, page: Page) {
  return paginate(db, historyQueries.replies(db, rootId, viewer, page), page);
}

/** `viewer` must be able to see the page's cursor message; see historyPage. */
export function listRoomMessages(db: Executor, roomId: string, viewer: string, page: Page) {
  return paginate(db, historyQueries.room(db, roomId, viewer, page), page);
}

export function listDirectMessages(db: Executor, userA: string, userB: string, viewer: string, page: Page) {
  return paginate(db, historyQueries.between(db, userA, userB, viewer, page), page);
}

/** What `userId` may see in (afterSeq, upToSeq], in log order, at most `limit`. */
export async function visibleAfter(db: Executor, userId: string, afterSeq: number, upToSeq: number, limit: number): Promise<LoggedMessage[]> {
  const { rows } = await db.executeQuery(historyQueries.visibleAfter(db, userId, afterSeq, upToSeq, limit));
  return rows.map(toLogged);
}

/** How many of those there are, counting no further than `limit`. */
export async function countVisibleAfter(db: Executor, userId: string, afterSeq: number, upToSeq: number, limit: number): Promise<number> {
  const { rows } = await db.executeQuery(historyQueries.countVisibleAfter(db, userId, afterSeq, upToSeq, limit));
  return rows[0]?.n ?? 0;
}

/**
 * Everyone `userId` has exchanged a direct message with, the user themself
 * too when they wrote notes to themselves, each with the newest message of
 * the pair, in one index probe per partner: a skip scan over each side of the
 * unordered pair, `messages_dm_pair_idx` for the partners whose id is above
 * the user's (and the user's own pair) and `messages_dm_pair_high_idx` for
 * those below. Both indexes are ordered newest first within a pair, so the
 * entry each probe lands on is the pair's newest message. The cost is the
 * user's partners, not their messages.
 */
export function directPairsSql(userId: string): RawBuilder<{ partner: string; last_at: Date; last_id: string }> {
  const pair = { low: sql`least(m.sender_id, m.recipient_id)`, high: sql`greatest(m.sender_id, m.recipient_id)` };
  const newestFirst = sql`m.created_at desc, m.id desc`;
  return sql<{ partner: string; last_at: Date; last_id: string }>`
    with recursive above(partner, last_at, last_id) as (
      (select ${pair.high}, m.created_at, m.id from messages m
        where m.recipient_id is not null and ${pair.low} = ${userId}
        order by ${pair.low}, ${pair.high}, ${newestFirst} limit 1)
      union all
      select n.* from above cross join lateral (
        select ${pair.high}, m.created_at, m.id from messages m
        where m.recipient_id is not null and ${pair.low} = ${userId} and ${pair.high} > above.partner
        order by ${pair.low}, ${pair.high}, ${newestFirst} limit 1) n
    ), below(partner, last_at, last_id) as (
      (select ${pair.low}, m.created_at, m.id from messages m
        where m.recipient_id is not null and ${pair.high} = ${userId} and ${pair.low} < ${userId}
        order by ${pair.high}, ${pair.low}, ${newestFirst} limit 1)
      union all
      select n.* from below cross join lateral (
        select ${pair.low}, m.created_at, m.id from messages m
        where m.recipient_id is not null and ${pair.high} = ${userId} and ${pair.low} > below.partner and ${pair.low} < ${userId}
        order by ${pair.high}, ${pair.low}, ${newestFirst} limit 1) n
    )
    select partner, last_at, last_id from above
    union all
    select partner, last_at, last_id from below`;
}

/** Everyone `userId` has exchanged a direct message with, not themselves (directPairsSql). */
export const directPartnersQuery = (db: Executor, userId: string): CompiledQuery<{ partner: string }> =>
  sql<{ partner: string }>`select partner from (${directPairsSql(userId)}) p where partner <> ${userId}`.compile(db);

export async function listDirectPartners(db: Executor, userId: string): Promise<string[]> {
  const { rows } = await db.executeQuery(directPartnersQuery(db, userId));
  return rows.map((row) => row.partner);
}
