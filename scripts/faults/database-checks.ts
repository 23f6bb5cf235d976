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

/** Rows stored for a phase, and how many idempotency keys (the content carries the key) were stored more than once. */
export async function storedFor(url: string, prefix: string): Promise<{ stored: number; storedTwice: number }> {
  const [row] = await once<{ stored: string; twice: string }>(
    url,
    `select count(*) as stored,
            (select count(*) from (select 1 from messages where left(content, $2) = $1
                                   group by sender_id, content having count(*) > 1) d) as twice
       from messages where left(content, $2) = $1`,
    [prefix, prefix.length],
  );
  return { stored: Number(row?.stored ?? 0), storedTwice: Number(row?.twice ?? 0) };
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
