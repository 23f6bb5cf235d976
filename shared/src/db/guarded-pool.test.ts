import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { freePort } from '../testing/ports.ts';
import { startTcpProxy, type TcpProxy } from '../testing/tcp-proxy.ts';
import { createDatabase, isUniqueViolation } from './database.ts';
import type { DB } from './schema.ts';

const opened: Array<Kysely<DB>> = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(opened.splice(0).map((db) => db.destroy()));
});

function open(config: { url: string; poolMax?: number; connectTimeoutMs?: number; queryTimeoutMs?: number }) {
  const db = createDatabase({ poolMax: 2, ...config });
  opened.push(db);
  return db;
}

async function proxy() {
  const target = new URL(inject('databaseUrl'));
  const started = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  proxies.push(started);
  return started;
}

/** What `work` rejects with, and how long it took to. */
async function failure(work: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await work();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected a failure');
}

function expectUnavailable(error: unknown) {
  expect(error).toBeInstanceOf(DomainError);
  expect(error).toMatchObject({ code: 'unavailable', message: 'storage is unavailable right now; try again shortly' });
}

const pid = async (db: Kysely<DB>) => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;

describe('a database whose PostgreSQL is away', () => {
  it('fails with unavailable when connections are refused', async () => {
    const db = open({ url: `postgres://postgres@127.0.0.1:${await freePort()}/chat` });
    const { error } = await failure(() => sql`select 1`.execute(db));
    expectUnavailable(error);
    expect((error as DomainError).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('fails with unavailable within the connect timeout when the server accepts and never answers', async () => {
    const silent = await proxy();
    silent.freeze();
    const db = open({ url: silent.via(inject('databaseUrl')), connectTimeoutMs: 200 });
    const { error, ms } = await failure(() => sql`select 1`.execute(db));
    expectUnavailable(error);
    expect(ms).toBeLessThan(1_500);
  });

  it('fails a running statement whose backend is terminated with unavailable, then works on a new connection', async () => {
    const appName = `guarded_${randomBytes(4).toString('hex')}`;
    const url = new URL(inject('databaseUrl'));
    url.searchParams.set('application_name', appName);
    const db = open({ url: url.toString(), poolMax: 1 });
    const before = await pid(db);

    const sleeping = failure(() => sql`select pg_sleep(5)`.execute(db));
    const admin = new pg.Client({ connectionString: inject('databaseUrl') });
    await admin.connect();
    try {
      // Wait until the sleep is running, then terminate exactly that backend.
      const running = async () =>
        (
          await admin.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity where application_name = $1 and query like '%pg_sleep%' and state = 'active'`,
            [appName],
          )
        ).rows[0]!.n;
      await expect.poll(running, { message: 'the sleep is running', timeout: 5_000, interval: 20 }).toBeGreaterThan(0);
      await admin.query('select pg_terminate_backend($1)', [before]);
    } finally {
      await admin.end();
    }
    const { error } = await sleeping;
    expectUnavailable(error);
    expect((error as DomainError).cause).toMatchObject({ code: '57P01' });
    expect(await pid(db)).not.toBe(before);
  });

  it('gives up on a statement after the query timeout, and the pool keeps working', async () => {
    const db = open({ url: inject('databaseUrl'), queryTimeoutMs: 200 });
    const { error, ms } = await failure(() => sql`select pg_sleep(3)`.execute(db));
    expectUnavailable(error);
    expect(ms).toBeLessThan(1_500);
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });

  it('fails a transaction whose server stops answering once, within the query timeout, and drops that connection', async () => {
    const link = await proxy();
    const db = open({ url: link.via(inject('databaseUrl')), poolMax: 1, connectTimeoutMs: 400, queryTimeoutMs: 400 });
    await sql`select 1`.execute(db);

    const { error, ms } = await failure(() =>
      db.transaction().execute(async (trx) => {
        link.freeze();
        await sql`select 1`.execute(trx);
      }),
    );
    expectUnavailable(error);
    // One timeout, not two: the ROLLBACK does not wait on the silent connection again.
    expect(ms).toBeLessThan(750);

    link.thaw();
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });
});

describe('a statement that is itself wrong', () => {
  it('keeps its own error: syntax errors and unique violations are not outages', async () => {
    const db = open({ url: inject('databaseUrl'), queryTimeoutMs: 2_000 });
    const { error: syntax } = await failure(() => sql`selec 1`.execute(db));
    expect(syntax).not.toBeInstanceOf(DomainError);
    expect(syntax).toMatchObject({ code: '42601' });

    const { error: duplicate } = await failure(() =>
      db.transaction().execute(async (trx) => {
        await sql`create temporary table guarded_t (id int primary key) on commit drop`.execute(trx);
        await sql`insert into guarded_t values (1)`.execute(trx);
        await sql`insert into guarded_t values (1)`.execute(trx);
      }),
    );
    expect(isUniqueViolation(duplicate, 'guarded_t_pkey')).toBe(true);
    // The rollback went through on a connection that is still fine.
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });
});

describe('prepared statements', () => {
  const prepared = async (db: Kysely<DB>) =>
    (await sql<{ name: string }>`select name from pg_prepared_statements where name like ${'chat_%'}`.execute(db)).rows.map((r) => r.name);

  it('prepares a statement with parameters once per connection and runs it by name after that', async () => {
    const db = open({ url: inject('databaseUrl'), poolMax: 1 });
    const before = await prepared(db);
    for (let i = 0; i < 3; i++) expect((await sql<{ n: number }>`select ${i}::int + 1 as n`.execute(db)).rows).toEqual([{ n: i + 1 }]);
    const after = await prepared(db);
    // One new name for three calls (the probe, prepared too, already saw itself in `before`).
    expect(after.length - before.length).toBe(1);
    // No parameters: no name (such a text may hold several statements).
    await sql`select 1; select 2`.execute(db);
    expect((await prepared(db)).length).toBe(after.length);
  });

  it('drops a connection whose prepared plan a migration made stale; the next call prepares afresh', async () => {
    const db = open({ url: inject('databaseUrl'), poolMax: 1 });
    const table = sql.table(`prep_${randomBytes(4).toString('hex')}`);
    await sql`create table ${table} (a int)`.execute(db);
    try {
      await sql`insert into ${table} values (1)`.execute(db);
      const read = () => sql`select * from ${table} where a = ${1}`.execute(db);
      await read();
      const first = await pid(db);
      await sql`alter table ${table} add column b int`.execute(db);
      const { error } = await failure(read);
      expectUnavailable(error);
      expect((error as DomainError).cause).toMatchObject({ code: '0A000' });
      expect((await read()).rows).toEqual([{ a: 1, b: null }]);
      expect(await pid(db)).not.toBe(first);
    } finally {
      await sql`drop table if exists ${table}`.execute(db);
    }
  });
});
