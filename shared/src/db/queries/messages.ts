import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { ChatMessage } from '../../model/message.ts';
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

const toChatMessage = (row: ViewRow): ChatMessage => ({ ...row, created_at: row.created_at.toISOString() });

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

export async function insertMessage(db: Executor, message: NewMessage): Promise<ChatMessage> {
  const inserted = await db.insertInto('messages').values(message).returning('id').executeTakeFirstOrThrow();
  const row = await messageView(db).where('m.id', '=', inserted.id).executeTakeFirstOrThrow();
  return toChatMessage(row);
}

export async function messageExists(db: Executor, id: string): Promise<boolean> {
  const row = await db.selectFrom('messages').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
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
