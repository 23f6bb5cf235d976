import type { Kysely } from 'kysely';
import { USERNAME_PATTERN } from '../chat/schemas.ts';
import { isUniqueViolation } from '../db/database.ts';
import { findUserById, findUserByUsername, insertUser } from '../db/queries/users.ts';
import type { DB, UserRow } from '../db/schema.ts';
import { conflict, DomainError, unauthenticated } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import type { Limiter } from '../limits/rate-limits.ts';
import type { PasswordHasher } from './passwords.ts';
import type { RevocationList } from './revocation.ts';
import type { IssuedToken, TokenClaims, TokenService } from './tokens.ts';
import { requireSession } from './scopes.ts';

/** The one answer to a registration whose username or e-mail address is taken. */
const REGISTRATION_CONFLICT = 'username or email is already registered';

/** A token may be exchanged for a fresh one only this close to its expiry. */
const REFRESH_WINDOW_SECONDS = 15 * 60;

export interface Session extends IssuedToken {
  user: UserRow;
}

export function createAccounts(deps: {
  db: Kysely<DB>;
  passwords: PasswordHasher;
  tokens: TokenService;
  revocations: RevocationList;
  events: EventPublisher;
  /**
   * Cluster-wide limits, all counted before any password is hashed, so junk
   * cannot occupy the bounded hashing queue. None in tests that build accounts bare.
   */
  limits?: { loginPerAccount: Limiter; loginPerAddress: Limiter; registerPerAddress: Limiter };
  now?: () => number;
}) {
  const { db, passwords, tokens, revocations, events } = deps;
  const nowSeconds = () => Math.floor((deps.now?.() ?? Date.now()) / 1000);

  const issue = async (user: UserRow): Promise<Session> => ({
    ...(await tokens.issue({ id: user.id, username: user.username })),
    user,
  });

  return {
    /** `from.address` is the client's address (see limits/client-address.ts), for the per-address limit. */
    async register(fields: { username: string; email: string; password: string }, from: { address: string }): Promise<UserRow> {
      await deps.limits?.registerPerAddress.consume(from.address);
      const passwordHash = await passwords.hash(fields.password);
      try {
        return await insertUser(db, { ...fields, passwordHash });
      } catch (error) {
        // One answer for either conflict: telling them apart would let anyone
        // probe which e-mail addresses have an account (docs/architecture.md).
        if (isUniqueViolation(error, 'users_username_key') || isUniqueViolation(error, 'users_email_key')) {
          throw conflict(REGISTRATION_CONFLICT);
        }
        throw error;
      }
    },

    /** Unknown user and wrong password fail alike, in body and in time. */
    async login(fields: { username: string; password: string }, from: { address: string }): Promise<Session> {
      // Both limits before the lookup and the hash, and the account's by the name as
      // typed (case folded) whether or not it exists: known and unknown names are
      // counted, refused and answered alike.
      const account = fields.username.toLowerCase();
      if (deps.limits) {
        await deps.limits.loginPerAddress.consume(from.address);
        await deps.limits.loginPerAccount.consume(account);
      }
      // A name registration could never have accepted (a NUL byte, say) matches no
      // one, and must not reach PostgreSQL, which would reject it as an error.
      const user = USERNAME_PATTERN.test(fields.username) ? await findUserByUsername(db, fields.username) : undefined;
      // A bot has no password: it is checked against the dummy hash, as an unknown name is, and refused alike.
      const ok = await passwords.verify(user?.kind === 'person' ? user.password_hash : undefined, fields.password);
      if (!user || !ok || user.kind !== 'person') throw unauthenticated('invalid username or password');
      // A successful login clears the account's count; its address keeps counting.
      await deps.limits?.loginPerAccount.reset(account);
      return issue(user);
    },

    /** Swaps a token inside its last 15 minutes for a new one and revokes the old. */
    async refresh(claims: TokenClaims): Promise<Session> {
      // An access token is not exchanged for a session.
      requireSession(claims);
      if (claims.exp - nowSeconds() > REFRESH_WINDOW_SECONDS) {
        throw new DomainError('refresh_not_allowed', 'a token can only be refreshed within 15 minutes of its expiry');
      }
      const user = await findUserById(db, claims.id);
      if (!user) throw unauthenticated('user no longer exists');
      // The old token is consumed exactly once: of concurrent refreshes, only the
      // one whose PostgreSQL insert of its revocation wins gets a new token.
      if (!(await revocations.revoke(claims))) throw unauthenticated('token revoked');
      events.tokenRevoked({ userId: claims.id, jti: claims.jti });
      return issue(user);
    },

    async logout(claims: TokenClaims): Promise<void> {
      await revocations.revoke(claims);
      events.tokenRevoked({ userId: claims.id, jti: claims.jti });
    },

    /** Revokes every token the caller holds, on every device, and closes all their sockets. */
    async logoutAll(claims: TokenClaims): Promise<void> {
      requireSession(claims);
      const notAfter = await revocations.revokeAllOf(claims.id);
      events.userTokensRevoked({ userId: claims.id, issuedNotAfter: notAfter });
    },

    async profile(claims: TokenClaims): Promise<UserRow> {
      const user = await findUserById(db, claims.id);
      if (!user) throw unauthenticated('user no longer exists');
      return user;
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
