import { forbidden } from '../errors.ts';
import type { Actor } from '../model/actor.ts';

/** What an access token may do; a session (a login's token) may do everything. */
export const SCOPES = ['messages:read', 'messages:write', 'rooms:write'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Refuses an actor whose token lacks `scope` (403 `forbidden`). Every rule
 * that reads or changes on a user's behalf calls it first, so a token is held
 * to its scopes on every transport alike.
 */
export function requireScope(actor: Actor, scope: Scope): void {
  if (actor.scopes !== undefined && !actor.scopes.includes(scope)) throw forbidden(`this token lacks the scope ${scope}`);
}

/** Refuses anything but a session: what manages tokens and bots cannot be done with a token (no token mints a stronger one). */
export function requireSession(actor: Actor): void {
  if (actor.scopes !== undefined) throw forbidden('access tokens cannot do this; sign in');
}
