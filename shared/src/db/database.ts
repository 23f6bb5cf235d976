import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/common.ts';
import type { Logger } from '../logger.ts';
import type { DB } from './schema.ts';

/** Query functions take either, so the use case decides whether they share a transaction. */
export type Executor = Kysely<DB> | Transaction<DB>;

/**
 * `connectTimeoutMs` is DB_CONNECT_TIMEOUT; tools and tests that leave it out get its default.
 * `logger` hears about pool errors (an idle connection lost); without one they are dropped.
 */
export function createDatabase(config: Omit<DatabaseConfig, 'connectTimeoutMs'> & Partial<DatabaseConfig>, logger?: Logger): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs ?? 5_000,
  });
  // An idle client losing its server emits 'error' on the pool; without a
  // listener that would crash the process instead of failing one query later.
  // The pool discards that client and the next query opens a new connection.
  pool.on('error', (err) => logger?.warn({ err }, 'idle database connection lost'));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** PostgreSQL's SQLSTATE for unique_violation. */
export const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof Error) || !('code' in error) || error.code !== UNIQUE_VIOLATION) return false;
  return constraint === undefined || ('constraint' in error && error.constraint === constraint);
}
