/**
 * Which failures mean "PostgreSQL cannot be reached or did not answer in time",
 * as opposed to a fault of the statement itself. Only the former may be retried
 * by a client, so only these become `unavailable`; a syntax error or a
 * constraint violation stays what it is (callers test for unique violations).
 */

/** Socket errors from Node while connecting to or talking with the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  // DNS: in a container network the database host disappears with its container.
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** query_canceled: DB_QUERY_TIMEOUT's statement_timeout ran out on the server. The session itself is fine. */
const QUERY_CANCELED = '57014';

/** SQLSTATEs outside class 08 (connection exception) that mean "not now" rather than "wrong". */
const SERVER_CODES = new Set([
  '57P01', // admin_shutdown: terminated by an administrator or a fast shutdown
  '57P02', // crash_shutdown: another backend crashed, the server restarts
  '57P03', // cannot_connect_now: starting up, shutting down, recovering
  '53300', // too_many_connections: the server's connection slots are full
  QUERY_CANCELED,
]);

/** Errors pg and pg-pool raise without a code: the connection is gone, never opened, or silent. */
const CLIENT_MESSAGES = [
  /^Connection terminated/, // "... unexpectedly", "... due to connection timeout"
  /^timeout exceeded when trying to connect$/, // pg-pool: DB_CONNECT_TIMEOUT while waiting for a client
  /^Query read timeout$/, // pg: DB_QUERY_TIMEOUT ran out on the client
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/, // a request racing shutdown
];

function codeOf(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // Connecting to a name with several addresses (localhost: ::1 and 127.0.0.1)
  // fails with every attempt's error gathered in one AggregateError.
  if (error instanceof AggregateError && error.errors.some(isConnectionFailure)) return true;
  const code = codeOf(error);
  if (code !== undefined) return NETWORK_CODES.has(code) || code.startsWith('08') || SERVER_CODES.has(code);
  return CLIENT_MESSAGES.some((pattern) => pattern.test(error.message));
}

/**
 * PostgreSQL's answer when a prepared statement's result columns changed under
 * it (a migration altered a table it reads): the connection's cached plans are
 * stale, so the connection should be dropped rather than reused.
 */
export function isStalePreparedStatement(error: unknown): boolean {
  return error instanceof Error && codeOf(error) === '0A000' && /cached plan must not change result type/.test(error.message);
}

/** Whether the server answered (so the connection still works) although the statement was given up on. */
export function isServerTimeout(error: unknown): boolean {
  return error instanceof Error && codeOf(error) === QUERY_CANCELED;
}
