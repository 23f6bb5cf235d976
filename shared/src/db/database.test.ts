import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../logger.ts';
import { createDatabase } from './database.ts';

/** A logger whose JSON lines the test can read. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', service: 'test', destination }) };
}

async function terminateBackend(pid: number) {
  const admin = new pg.Client({ connectionString: inject('databaseUrl') });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ terminated: boolean }>('select pg_terminate_backend($1) as terminated', [pid]);
    expect(rows[0]?.terminated).toBe(true);
  } finally {
    await admin.end();
  }
}

describe('createDatabase', () => {
  it('logs the error of an idle pooled connection the server drops, and recovers on the next query', async () => {
    const { lines, logger } = capturingLogger();
    const db = createDatabase({ url: inject('databaseUrl'), poolMax: 1 }, logger);
    try {
      // The query's connection goes back to the pool and sits there idle.
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
      const pid = rows[0]!.pid;

      await terminateBackend(pid);
      const lost = () => lines.find((l) => l.msg === 'idle database connection lost');
      await expect.poll(lost, { message: 'the pool error is logged', timeout: 5_000, interval: 20 }).toBeDefined();

      const logged = lost()!;
      expect(logged.level).toBe(40); // warn
      // 57P01 admin_shutdown: "terminating connection due to administrator command"
      expect(logged.err).toMatchObject({ code: '57P01', message: expect.stringContaining('terminating connection') as unknown });

      // The dropped client left the pool; the next query gets a fresh connection.
      const after = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
      expect(after.rows[0]!.pid).not.toBe(pid);
    } finally {
      await db.destroy();
    }
  });

  it('survives such an error without a logger', async () => {
    const db = createDatabase({ url: inject('databaseUrl'), poolMax: 1 });
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
      await terminateBackend(rows[0]!.pid);
      // Nothing to log to, and nothing crashes: once the pool has dropped the
      // client (a query racing the error may fail first), a query gets a new connection.
      const pid = await vi.waitFor(async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid, {
        timeout: 5_000,
        interval: 20,
      });
      expect(pid).not.toBe(rows[0]!.pid);
    } finally {
      await db.destroy();
    }
  });
});
