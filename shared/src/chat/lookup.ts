import type { Executor } from '../db/database.ts';
import { findUserById, findUserByUsername } from '../db/queries/users.ts';
import { USERNAME_PATTERN } from './schemas.ts';

/** Clients name users by username (the seed's way) or by id; the two forms cannot collide. */
export function findUserByNameOrId(db: Executor, nameOrId: string) {
  return USERNAME_PATTERN.test(nameOrId) ? findUserByUsername(db, nameOrId) : findUserById(db, nameOrId.toLowerCase());
}

export const isSameUser = (actor: { id: string; username: string }, nameOrId: string) =>
  actor.id === nameOrId.toLowerCase() || actor.username.toLowerCase() === nameOrId.toLowerCase();
