import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { ChatMessage, LoggedMessage } from '../../model/message.ts';
import type { Page, PageResult } from '../../model/page.ts';
import type { Executor } from '../database.ts';
import type { DB, NewMessage } from '../schema.ts';

type From = DB & { m: DB['messages']; s: DB['users']; r: DB['users'] };

function messageView(db: Executor) {
  return db
    .selectFrom('messages as m')
    .innerJoin('users as s', 's.id', 'm.sender_id')
    .leftJoin('users as r', 'r.id', 'm.recipient_id')
    .select(['m.id', 's.username as sender', 'r.username as recipient', 'm.room_id', 'm.content', 'm.created_at']);
}

type ViewRow = { id: string; sender: string; recipient: string | null; room_id: string | null; content: string; created_at: Date };

/** Exactly the client-visible fields, whatever else the row carries. */
const toChatMessage = (row: ViewRow): ChatMessage => ({
  id: row.id,
  sender: row.sender,
  recipient: row.recipient,
  room_id: row.room_id,
  content: row.content,
  created_at: row.created_at.toISOString(),
});

/** Newest first; one extra row tells whether another page exists. */
async function paginate(
  query: SelectQueryBuilder<From, 'm' | 's' | 'r', ViewRow>,
  page: Page,
): Promise<PageResult<ChatMessage>> {
  let q = query;
  if (page.before !== undefined) {
    const before = page.before;
    q = q.where((eb) =>
      eb(
        eb.refTuple('m.created_at', 'm.id'),
        '<',
        eb.selectFrom('messages as c').select(['c.created_at', 'c.id']).where('c.id', '=', before).$asTuple('created_at', 'id'),
      ),
    );
  }
  const rows = await q.orderBy('m.created_at', 'desc').orderBy('m.id', 'desc').limit(page.limit + 1).execute();
  const items = rows.slice(0, page.limit).map(toChatMessage);
  const more = rows.length > page.limit;
  return { items, nextCursor: more ? (items.at(-1)?.id ?? null) : null };
}

type LogRow = ViewRow & { seq: string; sender_id: string; recipient_id: string | null };

const toLogged = (row: LogRow): LoggedMessage => ({
  seq: Number(row.seq),
  senderId: row.sender_id,
  recipientId: row.recipient_id,
  message: toChatMessage(row),
});

/** The columns every log read returns, for rows of `messages` aliased `m`. */
const logColumns = sql`m.id, m.seq, m.sender_id, m.recipient_id, m.room_id, m.content, m.created_at,
  (select username from users where id = m.sender_id) as sender,
  (select username from users where id = m.recipient_id) as recipient`;

/** Stores a message, not yet numbered in the log: see `numberPending`. */
export async function insertMessage(
  db: Executor,
  message: Pick<NewMessage, 'sender_id' | 'recipient_id' | 'room_id' | 'content' | 'client_msg_id'>,
): Promise<ChatMessage> {
  const { rows } = await sql<ViewRow>`
    with m as (
      insert into messages (sender_id, recipient_id, room_id, content, client_msg_id)
      values (${message.sender_id}, ${message.recipient_id ?? null}, ${message.room_id ?? null}, ${message.content}, ${message.client_msg_id ?? null})
      returning *
    )
    select m.id, m.room_id, m.content, m.created_at,
      (select username from users where id = m.sender_id) as sender,
      (select username from users where id = m.recipient_id) as recipient
    from m`.execute(db);
  const row = rows[0];
  if (!row) throw new Error('insert returned no row');
  return toChatMessage(row);
}

/**
 * Gives every committed message without a seq the next ones, in one locked
 * batch (the `sequence_messages` function of the delivery-log migration).
 * Run it on its own connection, not inside a transaction that holds other
 * locks: the batch commits on return.
 */
export async function numberPending(db: Executor, maxRows: number): Promise<LoggedMessage[]> {
  const { rows } = await sql<LogRow>`
    select ${logColumns} from sequence_messages(${maxRows}) m order by m.seq`.execute(db);
  return rows.map(toLogged);
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
    select ${logColumns} from messages m where m.sender_id = ${senderId} and m.client_msg_id = ${clientMsgId}`.execute(db);
  return rows[0] && toChatMessage(rows[0]);
}

/** The last seq of a committed message (0 for an empty log). */
export async function logHead(db: Executor): Promise<number> {
  const row = await db.selectFrom('message_log').select('head').executeTakeFirst();
  return Number(row?.head ?? 0);
}

/** Every committed message after `afterSeq`, in log order: what a gateway missed. */
export async function logAfter(db: Executor, afterSeq: number, limit: number): Promise<LoggedMessage[]> {
  const { rows } = await sql<LogRow>`
    select ${logColumns} from messages m where m.seq > ${afterSeq} order by m.seq limit ${limit}`.execute(db);
  return rows.map(toLogged);
}

/**
 * What `userId` may see in (afterSeq, upToSeq], in log order: one index range
 * scan per audience (global, DMs sent, DMs received, the user's rooms), merged.
 */
function visibleRange(userId: string, afterSeq: number, upToSeq: number, limit: number) {
  const range = sql`m.seq > ${afterSeq} and m.seq <= ${upToSeq}`;
  return sql`
    (select * from messages m where m.recipient_id is null and m.room_id is null and ${range} order by m.seq limit ${limit})
    union all
    (select * from messages m where m.sender_id = ${userId} and m.recipient_id is not null and ${range} order by m.seq limit ${limit})
    union all
    (select * from messages m where m.recipient_id = ${userId} and m.sender_id <> ${userId} and ${range} order by m.seq limit ${limit})
    union all
    (select * from messages m where m.room_id in (select room_id from room_members where user_id = ${userId}) and ${range}
     order by m.seq limit ${limit})`;
}

export async function visibleAfter(db: Executor, userId: string, afterSeq: number, upToSeq: number, limit: number): Promise<LoggedMessage[]> {
  const { rows } = await sql<LogRow>`
    select ${logColumns} from (${visibleRange(userId, afterSeq, upToSeq, limit)}) m order by m.seq limit ${limit}`.execute(db);
  return rows.map(toLogged);
}

/** How many of those there are, counting no further than `limit`. */
export async function countVisibleAfter(db: Executor, userId: string, afterSeq: number, upToSeq: number, limit: number): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from (
      select m.seq from (${visibleRange(userId, afterSeq, upToSeq, limit)}) m order by m.seq limit ${limit}
    ) c`.execute(db);
  return rows[0]?.n ?? 0;
}

/** Whether `userId` may see the message at `seq` (false when there is none). */
export async function isVisibleAt(db: Executor, userId: string, seq: number): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`
    select exists (
      select 1 from messages m where m.seq = ${seq} and (
        (m.recipient_id is null and m.room_id is null)
        or m.sender_id = ${userId} or m.recipient_id = ${userId}
        or m.room_id in (select room_id from room_members where user_id = ${userId}))
    ) as ok`.execute(db);
  return rows[0]?.ok === true;
}

export async function messageExists(db: Executor, id: string): Promise<boolean> {
  const row = await db.selectFrom('messages').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

/** Whether message `id` exists and `userId` may see it (the same rule as listVisibleMessages). */
export async function messageVisibleTo(db: Executor, userId: string, id: string): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`
    select exists (
      select 1 from messages m where m.id = ${id} and (
        (m.recipient_id is null and m.room_id is null)
        or m.sender_id = ${userId} or m.recipient_id = ${userId}
        or m.room_id in (select room_id from room_members where user_id = ${userId}))
    ) as ok`.execute(db);
  return rows[0]?.ok === true;
}

/** Global messages, the user's own direct messages and the messages of the user's rooms. */
export function listVisibleMessages(db: Executor, userId: string, page: Page) {
  const visible = (eb: ExpressionBuilder<From, 'm' | 's' | 'r'>) =>
    eb.or([
      eb.and([eb('m.recipient_id', 'is', null), eb('m.room_id', 'is', null)]),
      eb.and([eb('m.sender_id', '=', userId), eb('m.recipient_id', 'is not', null)]),
      eb('m.recipient_id', '=', userId),
      eb('m.room_id', 'in', eb.selectFrom('room_members').select('room_id').where('user_id', '=', userId)),
    ]);
  return paginate(messageView(db).where(visible), page);
}

export function listRoomMessages(db: Executor, roomId: string, page: Page) {
  return paginate(messageView(db).where('m.room_id', '=', roomId), page);
}

/** Matches the messages_dm_pair_idx expression index. */
export function listDirectMessages(db: Executor, userA: string, userB: string, page: Page) {
  const [low, high] = userA < userB ? [userA, userB] : [userB, userA];
  return paginate(
    messageView(db)
      .where('m.recipient_id', 'is not', null)
      .where(sql`least(m.sender_id, m.recipient_id)`, '=', low)
      .where(sql`greatest(m.sender_id, m.recipient_id)`, '=', high),
    page,
  );
}
