import type { TokenClaims } from '@chat/shared/auth';

/** An open connection as revocation (and membership) sees it: the token it was opened with, and how to end it. */
export interface TokenHolder {
  readonly claims: TokenClaims;
  /**
   * The rooms the connection joins when it goes live (after its re-check and
   * any resume). A membership change that lands before then edits this list,
   * so a connection still resuming goes live in the rooms the user is in now.
   */
  readonly rooms: string[];
  /** Whether it has joined its rooms (and membership events now move it directly). */
  readonly live: boolean;
  /** Ends the connection because its token was revoked. */
  revoke(): void;
  /** Calls `listener` once the connection has closed. */
  whenClosed(listener: () => void): void;
}

/**
 * This gateway's open connections of both kinds, by user, with the token each
 * was opened with. A connection is added as soon as it exists (before it has
 * joined any room, and before its revocation re-check), so a revocation event
 * can never miss a connection that the re-check would not catch.
 */
const NONE: ReadonlySet<TokenHolder> = new Set();

export class LocalTokens {
  readonly #byUser = new Map<string, Set<TokenHolder>>();

  add(holder: TokenHolder): void {
    let set = this.#byUser.get(holder.claims.id);
    if (!set) this.#byUser.set(holder.claims.id, (set = new Set()));
    set.add(holder);
  }

  remove(holder: TokenHolder): void {
    const set = this.#byUser.get(holder.claims.id);
    if (!set?.delete(holder)) return;
    if (set.size === 0) this.#byUser.delete(holder.claims.id);
  }

  /** The user's open connections here, live or not yet. */
  of(userId: string): ReadonlySet<TokenHolder> {
    return this.#byUser.get(userId) ?? NONE;
  }

  /** Closes every local connection opened with this token; returns how many. */
  closeToken(userId: string, jti: string): number {
    return this.#close(userId, (claims) => claims.jti === jti);
  }

  /** Closes every local connection of the user whose token was issued at or before `issuedNotAfter`; returns how many. */
  closeIssuedNotAfter(userId: string, issuedNotAfter: number): number {
    return this.#close(userId, (claims) => claims.iat <= issuedNotAfter);
  }

  #close(userId: string, match: (claims: TokenClaims) => boolean): number {
    let closed = 0;
    for (const holder of [...(this.#byUser.get(userId) ?? [])]) {
      if (!match(holder.claims)) continue;
      holder.revoke();
      closed++;
    }
    return closed;
  }
}
