import type { TokenClaims } from '@chat/shared/auth';

/** An open connection as revocation sees it: the token it was opened with, and how to end it. */
export interface TokenHolder {
  readonly claims: TokenClaims;
  /** Ends the connection because its token was revoked. */
  revoke(): void;
}

/**
 * This gateway's open connections of both kinds, by user, with the token each
 * was opened with. A connection is added as soon as it exists (before it has
 * joined any room, and before its revocation re-check), so a revocation event
 * can never miss a connection that the re-check would not catch.
 */
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
