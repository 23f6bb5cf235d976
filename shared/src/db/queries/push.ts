import { sql, type Kysely } from 'kysely';
import type { Executor } from '../database.ts';
import type { DB } from '../schema.ts';

export interface PushSubscriptionRow {
  id: string;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: Date;
}

/**
 * Stores a subscription for `userId`; the same endpoint again (a browser
 * subscribing anew) updates its keys. Undefined when the endpoint belongs to
 * another user.
 */
export async function upsertPushSubscription(
  db: Executor,
  sub: { userId: string; endpoint: string; p256dh: string; auth: string },
): Promise<PushSubscriptionRow | undefined> {
  return db
    .insertInto('push_subscriptions')
    .values({ user_id: sub.userId, endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth })
    .onConflict((oc) =>
      oc.column('endpoint').doUpdateSet({ p256dh: sub.p256dh, auth: sub.auth }).where('push_subscriptions.user_id', '=', sub.userId),
    )
    .returningAll()
    .executeTakeFirst();
}

export async function countPushSubscriptions(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom('push_subscriptions')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function listPushSubscriptions(db: Executor, userIds: readonly string[]): Promise<PushSubscriptionRow[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('push_subscriptions').selectAll().where('user_id', 'in', userIds).orderBy('created_at').orderBy('id').execute();
}

export async function deletePushSubscription(db: Executor, id: string, userId?: string): Promise<boolean> {
  let query = db.deleteFrom('push_subscriptions').where('id', '=', id);
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  return (await query.returning('id').executeTakeFirst()) !== undefined;
}

// ---- The push log reader (one lease holder at a time) and its notices. ----

/** Takes (or renews) the lease of log reader `name`, starting it at the log's head the first time; its position, or undefined while another holds it. */
export async function leaseLogReader(db: Executor, name: string, token: string, leaseMs: number): Promise<number | undefined> {
  await sql`insert into log_readers (name, seq) values (${name}, (select head from message_log)) on conflict do nothing`.execute(db);
  const { rows } = await sql<{ seq: string }>`
    update log_readers set lease_token = ${token}, lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    where name = ${name} and (lease_until is null or lease_until < now() or lease_token = ${token})
    returning seq`.execute(db);
  return rows[0] ? Number(rows[0].seq) : undefined;
}

export async function releaseLogReader(db: Executor, name: string, token: string): Promise<void> {
  await db
    .updateTable('log_readers')
    .set({ lease_token: null, lease_until: null })
    .where('name', '=', name)
    .where('lease_token', '=', token)
    .execute();
}

export interface NotifiableMessage {
  seq: number;
  sender_id: string;
  sender: string;
  recipient_id: string | null;
  room_id: string | null;
  room_name: string | null;
  content: string;
}

/**
 * New messages in (after, upTo] that may notify someone: direct messages to
 * another user, and room messages that could mention someone (an `@`). At
 * most `limit` messages are read; `read` is how far that reached.
 */
export async function notifiableAfter(
  db: Executor,
  after: number,
  upTo: number,
  limit: number,
): Promise<{ messages: NotifiableMessage[]; read: number }> {
  const { rows } = await sql<NotifiableMessage & { seq: string; deleted: boolean }>`
    select m.seq, m.sender_id, u.username as sender, m.recipient_id, m.room_id, r.name as room_name, m.content, m.deleted_at is not null as deleted
    from (select * from messages where seq > ${after} and seq <= ${upTo} order by seq limit ${limit}) m
    join users u on u.id = m.sender_id
    left join rooms r on r.id = m.room_id
    order by m.seq`.execute(db);
  const read = rows.length < limit ? upTo : Number(rows.at(-1)?.seq ?? upTo);
  const messages = rows
    .filter((m) => !m.deleted && ((m.recipient_id !== null && m.recipient_id !== m.sender_id) || (m.room_id !== null && m.content.includes('@'))))
    .map(({ deleted: _deleted, ...m }) => ({ ...m, seq: Number(m.seq) }));
  return { messages, read };
}

/** Of `usernames` (lower-cased), the members of `roomId` other than `senderId` who have a push subscription. */
export async function mentionedMembers(db: Executor, roomId: string, senderId: string, usernames: readonly string[]): Promise<string[]> {
  if (usernames.length === 0) return [];
  const rows = await db
    .selectFrom('users as u')
    .innerJoin('room_members as rm', (j) => j.onRef('rm.user_id', '=', 'u.id').on('rm.room_id', '=', roomId))
    .select('u.id')
    .where(sql<boolean>`lower(u.username) in (${sql.join(usernames)})`)
    .where('u.id', '<>', senderId)
    .where((eb) => eb.exists(eb.selectFrom('push_subscriptions as s').select('s.id').whereRef('s.user_id', '=', 'u.id')))
    .execute();
  return rows.map((r) => r.id);
}

/** Of `userIds`, those with a push subscription. */
export async function subscribedAmong(db: Executor, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db.selectFrom('push_subscriptions').select('user_id').distinct().where('user_id', 'in', userIds).execute();
  return new Set(rows.map((r) => r.user_id));
}

export interface Notice {
  userId: string;
  conversation: string;
  count: number;
  lastSeq: number;
  title: string;
  body: string;
}

/**
 * Adds `notices` to what waits and moves the reader to `seq`, in one
 * transaction fenced by the lease: each message is counted once. A notice
 * with nothing pending is due at once, or one window after its last push.
 */
export async function addNotices(
  db: Kysely<DB>,
  name: string,
  token: string,
  seq: number,
  notices: readonly Notice[],
  windowMs: number,
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const moved = await tx.updateTable('log_readers').set({ seq }).where('name', '=', name).where('lease_token', '=', token).executeTakeFirst();
    if (moved.numUpdatedRows === 0n) return false;
    for (const n of notices) {
      await sql`
        insert into push_notices as p (user_id, conversation, pending, last_seq, title, body, due_at)
        values (${n.userId}, ${n.conversation}, ${n.count}, ${n.lastSeq}, ${n.title}, ${n.body}, now())
        on conflict (user_id, conversation) do update set
          pending = p.pending + excluded.pending, last_seq = excluded.last_seq, title = excluded.title, body = excluded.body,
          due_at = case when p.pending > 0 then p.due_at
                        else greatest(now(), coalesce(p.sent_at + make_interval(secs => ${windowMs / 1000}), now())) end`.execute(tx);
    }
    return true;
  });
}

export interface DueNotice {
  user_id: string;
  conversation: string;
  pending: number;
  last_seq: string;
  title: string;
  body: string;
}

/** Leases up to `limit` due notices for `leaseMs` (their `due_at` moves past the lease): no other worker sends them meanwhile. */
export async function claimDueNotices(db: Executor, leaseMs: number, limit: number): Promise<DueNotice[]> {
  const { rows } = await sql<DueNotice>`
    update push_notices n set due_at = now() + make_interval(secs => ${leaseMs / 1000})
    from (select user_id, conversation from push_notices where pending > 0 and due_at <= now()
          order by due_at limit ${limit} for update skip locked) d
    where n.user_id = d.user_id and n.conversation = d.conversation
    returning n.user_id, n.conversation, n.pending, n.last_seq, n.title, n.body`.execute(db);
  return rows;
}

/** `count` of a notice's pending messages were dealt with (sent, or not needed); what came meanwhile waits a window. */
export async function settleNotice(
  db: Executor,
  userId: string,
  conversation: string,
  count: number,
  sent: boolean,
  windowMs: number,
): Promise<void> {
  await sql`
    update push_notices set pending = greatest(pending - ${count}, 0),
      sent_at = case when ${sent} then now() else sent_at end,
      due_at = case when ${sent} then now() + make_interval(secs => ${windowMs / 1000}) else now() end
    where user_id = ${userId} and conversation = ${conversation}`.execute(db);
}
