import { sql } from 'kysely';
import type { Executor } from '../database.ts';
import type { UserRow } from '../schema.ts';
import { isUuid } from './uuid.ts';

export async function insertUser(db: Executor, user: { username: string; email: string; passwordHash: string }): Promise<UserRow> {
  return db
    .insertInto('users')
    .values({ username: user.username, email: user.email, password_hash: user.passwordHash })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findUserById(db: Executor, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Users named by id or by lower-cased username, in one round trip. Arrays as
 * parameters keep the statement's text the same whatever the count; an id that
 * is no uuid names nobody (and never reaches the cast).
 */
export async function findUsersByIdsOrUsernames(db: Executor, ids: string[], usernames: string[]): Promise<UserRow[]> {
  const uuids = ids.filter(isUuid);
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) =>
      eb.or([eb('id', '=', sql<string>`any(${uuids}::uuid[])`), eb(sql<string>`lower(username)`, '=', sql<string>`any(${usernames}::text[])`)]),
    )
    .execute();
}

/** Usernames are unique regardless of case, and so is the lookup. */
export async function findUserByUsername(db: Executor, username: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where(sql<string>`lower(username)`, '=', username.toLowerCase())
    .executeTakeFirst();
}

/** Users ordered by username (case-insensitively), starting after `after`. */
export async function listUsers(db: Executor, page: { limit: number; after?: string | undefined }): Promise<UserRow[]> {
  let query = db
    .selectFrom('users')
    .selectAll()
    .orderBy(sql`lower(username)`)
    .limit(page.limit);
  if (page.after !== undefined) query = query.where(sql<string>`lower(username)`, '>', page.after.toLowerCase());
  return query.execute();
}

export async function findUsernames(db: Executor, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('users').select('username').where('id', 'in', ids).orderBy('username').execute();
  return rows.map((r) => r.username);
}
