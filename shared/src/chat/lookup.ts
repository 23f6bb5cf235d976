import type { Executor } from '../db/database.ts';
import type { UserRow } from '../db/schema.ts';
import { findUsersByIdsOrUsernames } from '../db/queries/users.ts';
import { USERNAME_PATTERN } from './schemas.ts';

/**
 * Clients name users by username (the seed's way) or by id; the two forms
 * cannot collide. Both are matched lower-cased: usernames are unique regardless
 * of case, and ids are uuids.
 */
export const userRef = (nameOrId: string): { username: string } | { id: string } =>
  USERNAME_PATTERN.test(nameOrId) ? { username: nameOrId.toLowerCase() } : { id: nameOrId.toLowerCase() };

/** Several users named by username or id, looked up together; each slot undefined when nobody has that name. */
export async function findUsersByNameOrId(db: Executor, namesOrIds: string[]): Promise<Array<UserRow | undefined>> {
  const refs = namesOrIds.map(userRef);
  const ids = refs.flatMap((r) => ('id' in r ? [r.id] : []));
  const usernames = refs.flatMap((r) => ('username' in r ? [r.username] : []));
  const rows = await findUsersByIdsOrUsernames(db, ids, usernames);
  return refs.map((r) => rows.find((u) => ('id' in r ? u.id === r.id : u.username.toLowerCase() === r.username)));
}

export const isSameUser = (actor: { id: string; username: string }, nameOrId: string) =>
  actor.id === nameOrId.toLowerCase() || actor.username.toLowerCase() === nameOrId.toLowerCase();
