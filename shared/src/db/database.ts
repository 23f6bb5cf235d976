import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/common.ts';
import type { Logger } from '../logger.ts';
import { guardPool } from './guarded-pool.ts';
import type { DB } from './schema.ts';

/** Query functions take either, so the use case decides whether they share a transaction. */
export type Executor = Kysely<DB> | Transaction<DB>;

/**
 * `connectTimeoutMs` is DB_CONNECT_TIMEOUT; tools and tests that leave it out get its default.
 * `queryTimeoutMs` is DB_QUERY_TIMEOUT, for the services; without it (migrations,
 * which may rightly run long and wait on each other's lock) statements may take any time.
 * `logger` hears about pool errors (an idle connection lost); without one they are dropped.
 * `onConnectionFailure` hears about every connection-level failure (metrics).
 */
export function createDatabase(
  config: Omit<DatabaseConfig, 'connectTimeoutMs'> & Partial<DatabaseConfig> & { queryTimeoutMs?: number },
  logger?: Logger,
  onConnectionFailure?: (error: unknown) => void,
): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs ?? 5_000,
    // The server gives up on a statement (and its locks) at the same moment the
    // client stops waiting for it; the client side also covers a server that
    // stopped answering altogether.
    ...(config.queryTimeoutMs === undefined ? {} : { statement_timeout: config.queryTimeoutMs, query_timeout: config.queryTimeoutMs }),
  });
  // An idle client losing its server emits 'error' on the pool; without a
  // listener that would crash the process instead of failing one query later.
  // The pool discards that client and the next query opens a new connection.
  pool.on('error', (err) => {
    onConnectionFailure?.(err);
    logger?.warn({ err }, 'idle database connection lost');
  });
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: guardPool(pool, onConnectionFailure) }) });
}

/** PostgreSQL's SQLSTATE for unique_violation. */
const UNIQUE_VIOLATION = '23505';
/** PostgreSQL's SQLSTATE for foreign_key_violation. */
const FOREIGN_KEY_VIOLATION = '23503';
const CHECK_VIOLATION = '23514';

export function isForeignKeyViolation(error: unknown, constraint: string): boolean {
  return (
    error instanceof Error && 'code' in error && error.code === FOREIGN_KEY_VIOLATION && 'constraint' in error && error.constraint === constraint
  );
}

/** A check constraint, or a function raising check_violation under a constraint name of its own (react_message's cap). */
export function isCheckViolation(error: unknown, constraint: string): boolean {
  return error instanceof Error && 'code' in error && error.code === CHECK_VIOLATION && 'constraint' in error && error.constraint === constraint;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof Error) || !('code' in error) || error.code !== UNIQUE_VIOLATION) return false;
  return constraint === undefined || ('constraint' in error && error.constraint === constraint);
}
