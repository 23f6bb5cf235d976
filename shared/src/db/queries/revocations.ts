import { sql } from 'kysely';
import type { Executor } from '../database.ts';
import { isUuid } from './uuid.ts';

/**
 * Records a revocation. Returns false when the token id was already revoked:
 * the primary key makes this the one atomic gate for consuming a token.
 */
export async function insertRevocation(db: Executor, row: { jti: string; userId: string; expiresAt: Date }): Promise<boolean> {
  const result = await db
    .insertInto('revoked_tokens')
    .values({ jti: row.jti, user_id: row.userId, expires_at: row.expiresAt })
    .onConflict((oc) => oc.column('jti').doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Deletes up to `limit` revocations of tokens that have expired anyway. */
export async function purgeExpiredRevocations(db: Executor, limit: number): Promise<void> {
  await sql`delete from revoked_tokens where jti in (
              select jti from revoked_tokens where expires_at < now() limit ${limit})`.execute(db);
}

/** What PostgreSQL says about one token: is its id revoked, and the user's cut-off, if any. */
export async function findTokenStatus(db: Executor, jti: string, userId: string) {
  // A subject that is no user id (only a token forged with our own secret has one) has no cut-off.
  if (!isUuid(userId)) userId = '00000000-0000-0000-0000-000000000000';
  const row = await sql<{ revoked: boolean; valid_after: Date | null }>`
    select exists(select 1 from revoked_tokens where jti = ${jti} and expires_at > now()) as revoked,
           (select tokens_valid_after from users where id = ${userId}) as valid_after`.execute(db);
  const first = row.rows[0];
  return { revoked: first?.revoked ?? false, validAfter: first?.valid_after ?? null };
}

/**
 * Moves the user's cut-off forward to `at` (never back) and returns the cut-off
 * now in force, or undefined for an unknown user.
 */
export async function raiseTokensValidAfter(db: Executor, userId: string, at: Date): Promise<Date | undefined> {
  const row = await db
    .updateTable('users')
    .set({ tokens_valid_after: sql<Date>`greatest(coalesce(tokens_valid_after, ${at}), ${at})` })
    .where('id', '=', userId)
    .returning('tokens_valid_after')
    .executeTakeFirst();
  return row?.tokens_valid_after ?? undefined;
}

/** Every revocation still in force, to rebuild the Redis cache: unexpired ids, and cut-offs newer than `since`. */
export async function listLiveRevocations(db: Executor, cutoffsSince: Date) {
  const tokens = await db
    .selectFrom('revoked_tokens')
    .select(['jti', 'expires_at'])
    .where('expires_at', '>', sql<Date>`now()`)
    .execute();
  const cutoffs = await db.selectFrom('users').select(['id', 'tokens_valid_after']).where('tokens_valid_after', '>', cutoffsSince).execute();
  return { tokens, cutoffs: cutoffs.flatMap((c) => (c.tokens_valid_after ? [{ userId: c.id, validAfter: c.tokens_valid_after }] : [])) };
}
