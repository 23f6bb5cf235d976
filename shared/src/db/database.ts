import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/common.ts';
import type { DB } from './schema.ts';

/** Query functions take either, so the use case decides whether they share a transaction. */
export type Executor = Kysely<DB> | Transaction<DB>;

export function createDatabase(config: DatabaseConfig): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its server emits 'error' on the pool; without a
  // listener that would crash the process instead of failing one query later.
  pool.on('error', () => {});
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** PostgreSQL's SQLSTATE for unique_violation. */
export const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof Error) || !('code' in error) || error.code !== UNIQUE_VIOLATION) return false;
  return constraint === undefined || ('constraint' in error && error.constraint === constraint);
}
