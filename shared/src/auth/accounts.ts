import type { Kysely } from 'kysely';
import { USERNAME_PATTERN } from '../chat/schemas.ts';
import { isUniqueViolation } from '../db/database.ts';
import { findUserById, findUserByUsername, insertUser } from '../db/queries/users.ts';
import type { DB, UserRow } from '../db/schema.ts';
import { conflict, DomainError, unauthenticated } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import type { PasswordHasher } from './passwords.ts';
import type { RevocationList } from './revocation.ts';
import type { IssuedToken, TokenClaims, TokenService } from './tokens.ts';

/** A token may be exchanged for a fresh one only this close to its expiry. */
export const REFRESH_WINDOW_SECONDS = 15 * 60;

export interface Session extends IssuedToken {
  user: UserRow;
}

export function createAccounts(deps: {
  db: Kysely<DB>;
  passwords: PasswordHasher;
  tokens: TokenService;
  revocations: RevocationList;
  events: EventPublisher;
  now?: () => number;
}) {
  const { db, passwords, tokens, revocations, events } = deps;
  const nowSeconds = () => Math.floor((deps.now?.() ?? Date.now()) / 1000);

  const issue = async (user: UserRow): Promise<Session> => ({
    ...(await tokens.issue({ id: user.id, username: user.username })),
    user,
  });

  return {
    async register(fields: { username: string; email: string; password: string }): Promise<UserRow> {
      const passwordHash = await passwords.hash(fields.password);
      try {
        return await insertUser(db, { ...fields, passwordHash });
      } catch (error) {
        if (isUniqueViolation(error, 'users_username_key')) throw conflict('username is already taken');
        if (isUniqueViolation(error, 'users_email_key')) throw conflict('email is already registered');
        throw error;
      }
    },

    /** Unknown user and wrong password fail alike, in body and in time. */
    async login(fields: { username: string; password: string }): Promise<Session> {
      // A name registration could never have accepted (a NUL byte, say) matches no
      // one, and must not reach PostgreSQL, which would reject it as an error.
      const user = USERNAME_PATTERN.test(fields.username) ? await findUserByUsername(db, fields.username) : undefined;
      const ok = await passwords.verify(user?.password_hash, fields.password);
      if (!user || !ok) throw unauthenticated('invalid username or password');
      return issue(user);
    },

    /** Swaps a token inside its last 15 minutes for a new one and revokes the old. */
    async refresh(claims: TokenClaims): Promise<Session> {
      if (claims.exp - nowSeconds() > REFRESH_WINDOW_SECONDS) {
        throw new DomainError('refresh_not_allowed', 'a token can only be refreshed within 15 minutes of its expiry');
      }
      const user = await findUserById(db, claims.id);
      if (!user) throw unauthenticated('user no longer exists');
      const session = await issue(user);
      await revocations.revoke(claims.jti, claims.exp);
      return session;
    },

    async logout(claims: TokenClaims): Promise<void> {
      await revocations.revoke(claims.jti, claims.exp);
      events.tokenRevoked({ userId: claims.id, jti: claims.jti });
    },

    async profile(claims: TokenClaims): Promise<UserRow> {
      const user = await findUserById(db, claims.id);
      if (!user) throw unauthenticated('user no longer exists');
      return user;
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
