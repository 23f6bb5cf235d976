import pg from 'pg';

/** Runs one statement on a connection of its own, so a fault that kills connections cannot leave the suite holding a dead one. */
async function once<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a terminated connection reports here; the query below fails instead
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Rows stored for a phase's sends (by their idempotency keys, which every
 * transport stores as the message's client_msg_id: a deletion erases the
 * content, not the key), and how many keys were stored more than once.
 */
export async function storedFor(url: string, keys: string[]): Promise<{ stored: number; storedTwice: number }> {
  const [row] = await once<{ stored: string; twice: string }>(
    url,
    `select count(*) as stored,
            (select count(*) from (select 1 from messages where client_msg_id = any($1::text[])
                                   group by sender_id, client_msg_id having count(*) > 1) d) as twice
       from messages where client_msg_id = any($1::text[])`,
    [keys],
  );
  return { stored: Number(row?.stored ?? 0), storedTwice: Number(row?.twice ?? 0) };
}

/** The change entries (edits, reactions, deletions) the log holds for these messages, with their positions. */
export async function changesOf(url: string, messageIds: string[]): Promise<Array<{ messageId: string; seq: number }>> {
  const rows = await once<{ message_id: string; seq: string }>(
    url,
    'select message_id, seq from message_changes where message_id = any($1::uuid[]) and seq is not null order by seq',
    [messageIds],
  );
  return rows.map((r) => ({ messageId: r.message_id, seq: Number(r.seq) }));
}

/**
 * Which acknowledged read positions the database no longer holds at or past
 * (positions only move forward, so a later one is fine): by `<user id> <conversation>`.
 */
export async function readPositionsLost(url: string, reads: Array<{ userId: string; conversation: string; messageId: string }>): Promise<string[]> {
  const rows = await once<{ user_id: string; conversation: string }>(
    url,
    `select r.user_id, r.conversation
       from unnest($1::uuid[], $2::text[], $3::uuid[]) as r(user_id, conversation, message_id)
       join messages m on m.id = r.message_id
       left join conversation_reads cr on cr.user_id = r.user_id and cr.conversation = r.conversation
      where cr.message_id is null or (cr.message_created_at, cr.message_id) < (m.created_at, m.id)`,
    [reads.map((r) => r.userId), reads.map((r) => r.conversation), reads.map((r) => r.messageId)],
  );
  return rows.map((r) => `${r.user_id} ${r.conversation}`);
}

/** Fault 4: every PostgreSQL backend of the cluster's database, terminated from outside it. */
export async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  const rows = await once<{ terminated: boolean }>(
    adminUrl,
    'select pg_terminate_backend(pid) as terminated from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
    [database],
  );
  return rows.filter((r) => r.terminated).length;
}

/** A log entry as a webhook's owner may see it, with what a change was (for its event type). */
export interface OwnerEntry {
  id: string;
  seq: number;
  kind: string;
  reaction: string | null;
  reactionAdded: boolean | null;
  senderId: string;
  recipientId: string | null;
  roomId: string | null;
  /** When the message or change was written (PostgreSQL's clock, the same machine's). */
  createdAt: number;
}

/**
 * Every numbered log entry after `afterSeq` that `ownerId` may see (global
 * messages, direct messages to or from them, their rooms'), in log order:
 * what a webhook of theirs with no filter hears, written here without the
 * worker's query.
 */
export async function entriesVisibleTo(url: string, ownerId: string, afterSeq: number): Promise<OwnerEntry[]> {
  const rows = await once<{
    id: string;
    seq: string;
    kind: string;
    reaction: string | null;
    reaction_added: boolean | null;
    sender_id: string;
    recipient_id: string | null;
    room_id: string | null;
    created_at: Date;
  }>(
    url,
    `select e.entry_id as id, e.seq, e.kind, c.reaction, c.reaction_added, e.sender_id, e.recipient_id, e.room_id,
            coalesce(c.created_at, m.created_at) as created_at
       from log_entries e
       left join message_changes c on e.kind <> 'created' and c.id = e.entry_id
       left join messages m on e.kind = 'created' and m.id = e.entry_id
      where e.seq > $2
        and ((e.recipient_id is null and e.room_id is null) or e.sender_id = $1 or e.recipient_id = $1
             or e.room_id in (select room_id from room_members where user_id = $1))
      order by e.seq`,
    [ownerId, afterSeq],
  );
  return rows.map((r) => ({
    id: r.id,
    seq: Number(r.seq),
    kind: r.kind,
    reaction: r.reaction,
    reactionAdded: r.reaction_added,
    senderId: r.sender_id,
    recipientId: r.recipient_id,
    roomId: r.room_id,
    createdAt: r.created_at.getTime(),
  }));
}

/** Per event id, a webhook's attempts as the worker recorded them (webhook_deliveries; GET /api/webhooks/{id}/deliveries shows the same rows). */
export async function webhookAttempts(url: string, webhookId: string): Promise<Map<string, { delivered: number; failed: number }>> {
  const rows = await once<{ event_id: string; delivered: string; failed: string }>(
    url,
    `select event_id, count(*) filter (where outcome = 'delivered') as delivered, count(*) filter (where outcome = 'failed') as failed
       from webhook_deliveries where webhook_id = $1 group by event_id`,
    [webhookId],
  );
  return new Map(rows.map((r) => [r.event_id, { delivered: Number(r.delivered), failed: Number(r.failed) }]));
}

/** A webhook's state: its cursor (where it was made, at first), whether it is paused. */
export async function webhookState(url: string, webhookId: string): Promise<{ cursor: number; status: string; lastError: string | null }> {
  const [row] = await once<{ cursor: string; status: string; last_error: string | null }>(
    url,
    'select cursor, status, last_error from webhooks where id = $1',
    [webhookId],
  );
  if (!row) throw new Error(`webhook ${webhookId} is not in the database`);
  return { cursor: Number(row.cursor), status: row.status, lastError: row.last_error };
}

/** Every attempt the worker recorded for a webhook, oldest first: the evidence a run leaves next to the cluster's log. */
export async function webhookAttemptRows(url: string, webhookId: string): Promise<Array<Record<string, unknown>>> {
  return once(
    url,
    `select id, event_id, seq, event, attempt, outcome, status_code, error, duration_ms, created_at
       from webhook_deliveries where webhook_id = $1 order by id`,
    [webhookId],
  );
}
