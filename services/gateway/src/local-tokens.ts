import type { TokenClaims } from '@chat/shared/auth';

interface Entry {
  claims: TokenClaims;
  close: () => void;
}

/**
 * This gateway's open connections of both kinds, by user, with the token each
 * was opened with. A connection is added as soon as it exists (before it has
 * joined any room, and before its revocation re-check), so a revocation event
 * can never miss a connection that the re-check would not catch.
 */
export class LocalTokens {
  readonly #byUser = new Map<string, Set<Entry>>();

  /** Registers a connection; returns the function that forgets it. */
  add(claims: TokenClaims, close: () => void): () => void {
    const entry: Entry = { claims, close };
    let set = this.#byUser.get(claims.id);
    if (!set) this.#byUser.set(claims.id, (set = new Set()));
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#byUser.get(claims.id) === set) this.#byUser.delete(claims.id);
    };
  }

  /** Closes every local connection opened with this token. */
  closeToken(userId: string, jti: string): void {
    for (const entry of [...(this.#byUser.get(userId) ?? [])]) if (entry.claims.jti === jti) entry.close();
  }

  /** Closes every local connection of the user whose token was issued at or before `issuedNotAfter`. */
  closeIssuedNotAfter(userId: string, issuedNotAfter: number): void {
    for (const entry of [...(this.#byUser.get(userId) ?? [])]) if (entry.claims.iat <= issuedNotAfter) entry.close();
  }
}
