import { sql, type Selectable } from 'kysely';
import type { Executor } from '../database.ts';
import type { WebhookDeliveriesTable, WebhooksTable } from '../schema.ts';

const COLUMNS = ['id', 'owner_id', 'url', 'events', 'conversation', 'status', 'failures', 'last_error', 'paused_at', 'created_at'] as const;

/** A webhook as its owner sees it: everything but its secret, cursor and lease. */
export type WebhookRow = Pick<Selectable<WebhooksTable>, (typeof COLUMNS)[number]>;

export async function insertWebhook(
  db: Executor,
  hook: { ownerId: string; url: string; events: readonly string[]; conversation: string | null; secret: string },
): Promise<WebhookRow> {
  // Starts at the log's head: a new webhook hears what happens from now on.
  return db
    .insertInto('webhooks')
    .values({
      owner_id: hook.ownerId,
      url: hook.url,
      events: [...hook.events],
      conversation: hook.conversation,
      secret: hook.secret,
      cursor: sql<string>`(select head from message_log)`,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function countWebhooks(db: Executor, ownerIds: readonly string[]): Promise<number> {
  const row = await db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('owner_id', 'in', ownerIds)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function listWebhooks(db: Executor, ownerIds: readonly string[]): Promise<WebhookRow[]> {
  return db.selectFrom('webhooks').select(COLUMNS).where('owner_id', 'in', ownerIds).orderBy('created_at').orderBy('id').execute();
}

export async function findWebhook(db: Executor, id: string, ownerIds: readonly string[]): Promise<WebhookRow | undefined> {
  return db.selectFrom('webhooks').select(COLUMNS).where('id', '=', id).where('owner_id', 'in', ownerIds).executeTakeFirst();
}

export async function deleteWebhook(db: Executor, id: string, ownerIds: readonly string[]): Promise<boolean> {
  const row = await db.deleteFrom('webhooks').where('id', '=', id).where('owner_id', 'in', ownerIds).returning('id').executeTakeFirst();
  return row !== undefined;
}

/** Active again, from where its cursor stands: what it missed while paused follows. */
export async function resumeWebhook(db: Executor, id: string, ownerIds: readonly string[]): Promise<WebhookRow | undefined> {
  return db
    .updateTable('webhooks')
    .set({ status: 'active', failures: 0, next_attempt_at: sql<Date>`now()`, paused_at: null })
    .where('id', '=', id)
    .where('owner_id', 'in', ownerIds)
    .returning(COLUMNS)
    .executeTakeFirst();
}

/** One recorded attempt, as its webhook's owner reads them. */
export type DeliveryRow = Omit<Selectable<WebhookDeliveriesTable>, 'webhook_id'>;
const DELIVERY_COLUMNS = ['id', 'event_id', 'seq', 'event', 'attempt', 'outcome', 'status_code', 'error', 'duration_ms', 'created_at'] as const;

/** A webhook's attempts, newest first, before attempt `before` (an id) when given. */
export async function listDeliveries(db: Executor, webhookId: string, limit: number, before?: string): Promise<DeliveryRow[]> {
  let query = db.selectFrom('webhook_deliveries').select(DELIVERY_COLUMNS).where('webhook_id', '=', webhookId);
  if (before !== undefined) query = query.where('id', '<', before);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

// ---- The worker's side: leases, the cursor, attempts. ----

export interface LeasedWebhook {
  id: string;
  owner_id: string;
  url: string;
  events: string[];
  conversation: string | null;
  secret: string;
  cursor: number;
  failures: number;
}

/**
 * Leases up to `limit` active webhooks that are due and behind the log's head
 * to `token` for `leaseMs`. SKIP LOCKED: workers claiming at once each get
 * other rows; a lease that lapsed (its worker died) may be taken again.
 */
export async function leaseDueWebhooks(db: Executor, token: string, leaseMs: number, limit: number): Promise<LeasedWebhook[]> {
  const { rows } = await sql<Omit<LeasedWebhook, 'cursor'> & { cursor: string }>`
    update webhooks w set lease_token = ${token}, lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    where w.id in (
      select id from webhooks
      where status = 'active' and next_attempt_at <= now()
        and (lease_until is null or lease_until < now())
        and cursor < (select head from message_log)
      order by next_attempt_at
      limit ${limit}
      for update skip locked)
    returning w.id, w.owner_id, w.url, w.events, w.conversation, w.secret, w.cursor, w.failures`.execute(db);
  return rows.map((row) => ({ ...row, cursor: Number(row.cursor) }));
}

export interface Attempt {
  eventId: string;
  seq: number;
  event: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * An acknowledged attempt: recorded, and the cursor moved past it, in one
 * statement fenced by the lease: false when the lease was lost (another
 * worker may hold the webhook now, and this one must stop).
 */
export async function acknowledge(db: Executor, webhookId: string, token: string, leaseMs: number, attempt: Attempt): Promise<boolean> {
  // The attempt is recorded only with the cursor's move: a worker that lost its
  // lease records nothing, so every attempt listed as delivered was acknowledged.
  const { rows } = await sql<{ webhook_id: string }>`
    with moved as (
      update webhooks set cursor = ${attempt.seq}, failures = 0, last_error = null,
        lease_until = now() + make_interval(secs => ${leaseMs / 1000})
      where id = ${webhookId} and lease_token = ${token} and cursor < ${attempt.seq}
      returning id)
    insert into webhook_deliveries (webhook_id, event_id, seq, event, attempt, outcome, status_code, error, duration_ms)
    select id, ${attempt.eventId}, ${attempt.seq}, ${attempt.event}, ${attempt.attempt}, 'delivered', ${attempt.statusCode}, null, ${attempt.durationMs}
    from moved
    returning webhook_id`.execute(db);
  return rows.length > 0;
}

/**
 * A failed attempt: recorded, the webhook released until `retryInMs` from now,
 * or paused when this was failure number `pauseAfter`; nothing when the lease
 * was lost (undefined).
 */
export async function recordFailure(
  db: Executor,
  webhookId: string,
  token: string,
  attempt: Attempt,
  opts: { retryInMs: number; pauseAfter: number },
): Promise<{ paused: boolean } | undefined> {
  const { rows } = await sql<{ status: string }>`
    with moved as (
      update webhooks set failures = failures + 1, last_error = ${attempt.error},
        status = case when failures + 1 >= ${opts.pauseAfter} then 'paused' else status end,
        paused_at = case when failures + 1 >= ${opts.pauseAfter} then now() else paused_at end,
        next_attempt_at = now() + make_interval(secs => ${opts.retryInMs / 1000}),
        lease_token = null, lease_until = null
      where id = ${webhookId} and lease_token = ${token}
      returning id, status),
    recorded as (
      insert into webhook_deliveries (webhook_id, event_id, seq, event, attempt, outcome, status_code, error, duration_ms)
      select id, ${attempt.eventId}, ${attempt.seq}, ${attempt.event}, ${attempt.attempt}, 'failed', ${attempt.statusCode}, ${attempt.error}, ${attempt.durationMs}
      from moved)
    select status from moved`.execute(db);
  const row = rows[0];
  return row ? { paused: row.status === 'paused' } : undefined;
}

/**
 * Gives the webhook back (caught up, or the worker is stopping), with its
 * cursor moved over what it read but does not hear, in one statement. Its
 * turn moves to now: leases go oldest `next_attempt_at` first, so webhooks
 * that keep falling behind a busy log take turns instead of the first few
 * starving the rest.
 */
export async function release(db: Executor, webhookId: string, token: string, readTo: number): Promise<void> {
  await db
    .updateTable('webhooks')
    .set({ cursor: sql`greatest(cursor, ${readTo})`, lease_token: null, lease_until: null, next_attempt_at: sql<Date>`now()` })
    .where('id', '=', webhookId)
    .where('lease_token', '=', token)
    .execute();
}

/** Deletes attempts older than `ageMs`, at most `limit` at a time; how many went. */
export async function pruneDeliveries(db: Executor, ageMs: number, limit: number): Promise<number> {
  const result = await sql`
    delete from webhook_deliveries where id in (
      select id from webhook_deliveries where created_at < now() - make_interval(secs => ${ageMs / 1000}) limit ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** What a reaction change did, and who made it, for the changes at `seqs`. */
export async function changeDetails(
  db: Executor,
  seqs: readonly number[],
): Promise<Map<number, { id: string; reaction: string | null; added: boolean | null; actor: string | null }>> {
  if (seqs.length === 0) return new Map();
  const rows = await db
    .selectFrom('message_changes as c')
    .leftJoin('users as u', 'u.id', 'c.actor_id')
    .select(['c.id', 'c.seq', 'c.reaction', 'c.reaction_added', 'u.username'])
    .where('c.seq', 'in', seqs.map(String))
    .execute();
  return new Map(rows.map((r) => [Number(r.seq), { id: r.id, reaction: r.reaction, added: r.reaction_added, actor: r.username }]));
}
