import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';
import { DomainError } from '../errors.ts';
import { isConnectionFailure, isServerTimeout, isStalePreparedStatement } from './connection-failures.ts';
import { createStatementNames } from './statement-names.ts';

const UNAVAILABLE = 'storage is unavailable right now; try again shortly';

const unavailable = (cause: unknown) => new DomainError('unavailable', UNAVAILABLE, undefined, cause);

/** Distinct statement texts kept prepared per connection (see statement-names.ts). */
const PREPARED_STATEMENTS = 300;

/**
 * A connection-level failure becomes `unavailable` (and is reported to
 * `onConnectionFailure`, e.g. a metrics counter); any other error is the
 * statement's own and passes unchanged.
 *
 * The pg pool as Kysely's PostgresDialect sees it, with PostgreSQL outages
 * already turned into `unavailable` domain errors. Doing it here, under every
 * query and transaction, means no rule and no transport has to know which
 * pg errors mean "the database is away".
 */
export function guardPool(pool: pg.Pool, onConnectionFailure?: (error: unknown) => void): PostgresPool {
  const nameOf = createStatementNames(PREPARED_STATEMENTS);
  const translate = (error: unknown) => {
    if (isConnectionFailure(error)) {
      onConnectionFailure?.(error);
      return unavailable(error);
    }
    return error;
  };
  return {
    options: pool.options,
    async connect() {
      try {
        return guardClient(await pool.connect(), translate, nameOf);
      } catch (error) {
        throw translate(error);
      }
    },
    end: () => pool.end(),
  };
}

/** One checkout of a pooled client. */
function guardClient(
  client: pg.PoolClient,
  translate: (error: unknown) => unknown,
  nameOf: (text: string, parameterCount: number) => string | undefined,
): PostgresPoolClient {
  // The first failure that left this connection unusable, if any.
  let lost: unknown;
  // pg-pool listens for errors only on idle clients: a checked-out client whose
  // socket fails between queries would otherwise emit an unhandled 'error' and
  // end the process.
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on('error', onError);

  async function statement<R>(text: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    // After a failure, later statements (Kysely's ROLLBACK) fail at once instead
    // of waiting out the same timeout on a connection that will not answer.
    if (lost !== undefined) throw unavailable(lost);
    const name = nameOf(text, parameters.length);
    try {
      // pg types `command` as any string; Kysely names the ones it reads.
      const result = await client.query(name === undefined ? text : { name, text }, [...parameters]);
      return result as unknown as PostgresQueryResult<R>;
    } catch (error) {
      // A statement timeout is answered by a server that is still talking to us.
      if (isConnectionFailure(error) && !isServerTimeout(error)) lost ??= error;
      // Plans prepared before a migration: this connection goes, a retry gets a fresh one.
      if (name !== undefined && isStalePreparedStatement(error)) {
        lost ??= error;
        throw unavailable(error);
      }
      throw translate(error);
    }
  }

  function query<R>(text: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  function query<R>(textOrCursor: string | PostgresCursor<R>, parameters: ReadonlyArray<unknown> = []) {
    if (typeof textOrCursor === 'string') return statement<R>(textOrCursor, parameters);
    // A cursor (streaming): nothing here streams, so it passes through as pg returns it.
    return client.query(textOrCursor as unknown as pg.Submittable) as unknown as PostgresCursor<R>;
  }

  return {
    query,
    release(destroy) {
      client.off('error', onError);
      // A connection that failed (a query read timeout leaves pg thinking it is
      // fine) is closed rather than handed to the next caller.
      client.release(lost instanceof Error ? lost : Boolean(destroy) || lost !== undefined);
    },
  };
}
