import { unauthenticated } from '../errors.ts';
import { ACCESS_TOKEN_PREFIX, type AccessTokens } from './access-tokens.ts';
import type { RevocationList } from './revocation.ts';
import type { TokenClaims, TokenService } from './tokens.ts';

export const AUTH_COOKIE = 'jwt_token';

/** Verifies a token exactly the same way for every transport, revocation included. */
export interface Authenticator {
  authenticate(token: string | undefined): Promise<TokenClaims>;
  /**
   * Checks an already verified token's revocation again: a socket calls this
   * once it is registered for revocation events, so a logout that raced its
   * handshake is caught either by the event or by this check.
   */
  recheck(claims: TokenClaims): Promise<void>;
}

/**
 * A session token (a JWT from a login) or an access token (ACCESS_TOKEN_PREFIX,
 * looked up by its hash, carrying its scopes); either way the revocation list
 * has the last word.
 */
export function createAuthenticator(tokens: TokenService, revocations: RevocationList, accessTokens?: Pick<AccessTokens, 'verify'>): Authenticator {
  return {
    async authenticate(token) {
      if (!token) throw unauthenticated();
      const claims = token.startsWith(ACCESS_TOKEN_PREFIX) && accessTokens ? await accessTokens.verify(token) : await tokens.verify(token);
      if (await revocations.isRevoked(claims)) throw unauthenticated('token revoked');
      return claims;
    },
    async recheck(claims) {
      if (await revocations.isRevoked(claims)) throw unauthenticated('token revoked');
    },
  };
}

/**
 * Picks the token from the places clients may put it, in a fixed order:
 * an explicit credential (socket auth payload, Authorization header) wins
 * over the ambient cookie, and the query parameter comes last.
 */
export function pickToken(sources: {
  auth?: unknown;
  authorization?: string | null | undefined;
  cookieHeader?: string | null | undefined;
  query?: string | null | undefined;
}): string | undefined {
  if (typeof sources.auth === 'string' && sources.auth) return sources.auth;
  const bearer = sources.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (bearer) return bearer;
  const cookie = readCookie(sources.cookieHeader, AUTH_COOKIE);
  if (cookie) return cookie;
  return sources.query || undefined;
}

function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
