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
