import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops it even while connections are still open, so a failed run cannot leave it behind. */
  drop(): Promise<void>;
}

async function asAdmin(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function migrate(url: string): Promise<void> {
  const db = createDatabase({ url, poolMax: 1 });
  try {
    const { error } = await migrateToLatest(db);
    if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
  } finally {
    await db.destroy();
  }
}

/**
 * Creates a database no other run shares on the server `adminUrl` points at,
 * so concurrent runs never see each other's rows.
 */
export async function createTestDatabase(options: { adminUrl: string; prefix?: string; migrate?: boolean }): Promise<TestDatabase> {
  const name = `${options.prefix ?? 'chat_test'}_${randomBytes(4).toString('hex')}`;
  const target = new URL(options.adminUrl);
  target.pathname = `/${name}`;
  const database: TestDatabase = {
    name,
    url: target.toString(),
    drop: () => asAdmin(options.adminUrl, `drop database if exists ${pg.escapeIdentifier(name)} with (force)`),
  };
  await asAdmin(options.adminUrl, `create database ${pg.escapeIdentifier(name)}`);
  if (options.migrate) {
    try {
      await migrate(database.url);
    } catch (error) {
      await database.drop();
      throw error;
    }
  }
  return database;
}
