import type { Executor } from '../db/database.ts';
import { findUserById, findUserByUsername } from '../db/queries/users.ts';
import { USERNAME_PATTERN } from './schemas.ts';

/**
 * Clients name users by username (the seed's way) or by id; the two forms
 * cannot collide. Both are matched lower-cased: usernames are unique regardless
 * of case, and ids are uuids.
 */
export const userRef = (nameOrId: string): { username: string } | { id: string } =>
  USERNAME_PATTERN.test(nameOrId) ? { username: nameOrId.toLowerCase() } : { id: nameOrId.toLowerCase() };

export function findUserByNameOrId(db: Executor, nameOrId: string) {
  const ref = userRef(nameOrId);
  return 'id' in ref ? findUserById(db, ref.id) : findUserByUsername(db, ref.username);
}

export const isSameUser = (actor: { id: string; username: string }, nameOrId: string) =>
  actor.id === nameOrId.toLowerCase() || actor.username.toLowerCase() === nameOrId.toLowerCase();
