import { promises as fs } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database.ts';
import { createDatabase } from './database.ts';
import { migrateToLatest } from './migrate.ts';

const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');
// Its own unmigrated database: the run's shared one is migrated already.
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase({ adminUrl: inject('adminDatabaseUrl'), prefix: 'chat_migrate' });
});
afterAll(() => database.drop());

async function migrationFiles() {
  return (await fs.readdir(MIGRATIONS_DIR))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
}

/** Index names the migrations create, read from their source so a new index is checked too. */
async function indexNamesInMigrations() {
  const names: string[] = [];
  for (const file of await fs.readdir(MIGRATIONS_DIR)) {
    const source = await fs.readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
    for (const m of source.matchAll(/create (?:unique )?index (\w+)/gi)) names.push(m[1]!);
    for (const m of source.matchAll(/createIndex\('(\w+)'\)/g)) names.push(m[1]!);
  }
  return names.sort();
}

describe('migrateToLatest', () => {
  it('applies each migration exactly once when four replicas start together on a new database', async () => {
    const dbs = Array.from({ length: 4 }, () => createDatabase({ url: database.url, poolMax: 2 }));
    try {
      const outcomes = await Promise.all(dbs.map((db) => migrateToLatest(db)));
      for (const outcome of outcomes) expect(outcome.error).toBeUndefined();

      const files = await migrationFiles();
      expect(files.length).toBeGreaterThan(0);
      const applied = outcomes
        .flatMap((o) => o.results ?? [])
        .filter((r) => r.status === 'Success')
        .map((r) => r.migrationName);
      expect(applied.sort()).toEqual(files);
      expect(outcomes.flatMap((o) => o.results ?? []).filter((r) => r.status === 'Error')).toEqual([]);

      const db = dbs[0]!;
      const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
      expect(rows.rows.map((r) => r.name)).toEqual(files);

      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(db);
      expect(tables.rows.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['kysely_migration', 'kysely_migration_lock', 'messages', 'room_members', 'rooms', 'users']),
      );

      const expectedIndexes = await indexNamesInMigrations();
      expect(expectedIndexes).toEqual(
        expect.arrayContaining([
          'messages_dm_pair_idx',
          'messages_dm_recipient_idx',
          'messages_dm_sender_idx',
          'messages_global_idx',
          'messages_room_idx',
          'room_members_user_idx',
          'users_email_key',
          'users_username_key',
        ]),
      );
      const indexes = await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = 'public'`.execute(db);
      expect(indexes.rows.map((i) => i.indexname)).toEqual(expect.arrayContaining(expectedIndexes));

      // A later start finds nothing to do.
      expect(await migrateToLatest(db)).toEqual({ results: [] });
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  });
});
