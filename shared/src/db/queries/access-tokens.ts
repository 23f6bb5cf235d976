import type { Executor } from '../database.ts';

export interface AccessTokenRow {
  id: string;
  user_id: string;
  name: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
}

const COLUMNS = ['id', 'user_id', 'name', 'scopes', 'created_at', 'expires_at'] as const;

export async function insertAccessToken(
  db: Executor,
  token: { userId: string; createdBy: string; name: string; hash: Buffer; scopes: readonly string[]; expiresAt: Date | null },
): Promise<AccessTokenRow> {
  return db
    .insertInto('access_tokens')
    .values({
      user_id: token.userId,
      created_by: token.createdBy,
      name: token.name,
      token_hash: token.hash,
      scopes: [...token.scopes],
      expires_at: token.expiresAt,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** The token with this hash, with its user's name, if it has not expired. */
export async function findAccessTokenByHash(db: Executor, hash: Buffer): Promise<(AccessTokenRow & { username: string }) | undefined> {
  return db
    .selectFrom('access_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select(['t.id', 't.user_id', 't.name', 't.scopes', 't.created_at', 't.expires_at', 'u.username'])
    .where('t.token_hash', '=', hash)
    .where((eb) => eb.or([eb('t.expires_at', 'is', null), eb('t.expires_at', '>', new Date())]))
    .executeTakeFirst();
}

/** The tokens of the users `ownerId` manages: their own and their bots'. */
export async function listAccessTokens(db: Executor, userIds: readonly string[]): Promise<AccessTokenRow[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('access_tokens').select(COLUMNS).where('user_id', 'in', userIds).orderBy('created_at').orderBy('id').execute();
}

/** Deletes token `id` if it belongs to one of `userIds`; the deleted row, if any. */
export async function deleteAccessToken(db: Executor, id: string, userIds: readonly string[]): Promise<AccessTokenRow | undefined> {
  if (userIds.length === 0) return undefined;
  return db.deleteFrom('access_tokens').where('id', '=', id).where('user_id', 'in', userIds).returning(COLUMNS).executeTakeFirst();
}

/** The bots `ownerId` owns. */
export async function listBots(db: Executor, ownerId: string): Promise<Array<{ id: string; username: string; created_at: Date }>> {
  return db.selectFrom('users').select(['id', 'username', 'created_at']).where('owner_id', '=', ownerId).orderBy('created_at').execute();
}

export async function insertBot(db: Executor, bot: { username: string; ownerId: string; email: string }) {
  return db
    .insertInto('users')
    .values({ username: bot.username, email: bot.email, password_hash: '', kind: 'bot', owner_id: bot.ownerId })
    .returning(['id', 'username', 'created_at'])
    .executeTakeFirstOrThrow();
}
