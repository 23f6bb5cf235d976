import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { unauthenticated } from '../errors.ts';
import type { Actor } from '../model/actor.ts';

export const TOKEN_ISSUER = 'chat-api';
export const TOKEN_AUDIENCE = 'chat-clients';
const ALGORITHM = 'HS256';

export interface TokenClaims extends Actor {
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
}

export interface IssuedToken {
  token: string;
  claims: TokenClaims;
}

export interface TokenService {
  issue(actor: Actor): Promise<IssuedToken>;
  /** Checks signature, algorithm, issuer, audience and lifetime; not revocation. */
  verify(token: string): Promise<TokenClaims>;
}

/** Distinct tokens whose signature check is remembered; the oldest is forgotten first. */
const VERIFIED_CACHE_SIZE = 10_000;

export function createTokenService(opts: { secret: string; expiryHours: number; now?: () => number; cacheSize?: number }): TokenService {
  const key = new TextEncoder().encode(opts.secret);
  const nowSeconds = () => Math.floor((opts.now?.() ?? Date.now()) / 1000);
  const verified = createVerifiedCache(opts.cacheSize ?? VERIFIED_CACHE_SIZE);

  async function verifySignature(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        currentDate: new Date(nowSeconds() * 1000),
      });
      const { sub, jti, exp, iat, username } = payload;
      if (typeof username !== 'string' || !sub || !jti || exp === undefined || iat === undefined) {
        throw unauthenticated('invalid token');
      }
      return { id: sub, username, jti, exp, iat };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) {
        throw unauthenticated(error.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token');
      }
      throw error;
    }
  }

  return {
    async issue(actor) {
      const iat = nowSeconds();
      const exp = iat + Math.round(opts.expiryHours * 3600);
      const jti = randomUUID();
      const token = await new SignJWT({ username: actor.username })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(actor.id)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(key);
      return { token, claims: { id: actor.id, username: actor.username, jti, exp, iat } };
    },

    async verify(token) {
      // A client sends the same token with every request: checking its HMAC
      // (a WebCrypto job) once is enough. Only the byte-identical string hits,
      // and the one claim that changes with time, `exp`, is checked on every use
      // exactly as jose checks it. Revocation is not cached here.
      const known = verified.get(token);
      if (known) {
        if (known.exp <= nowSeconds()) {
          verified.delete(token);
          throw unauthenticated('token expired');
        }
        return { ...known };
      }
      const claims = await verifySignature(token);
      verified.set(token, claims);
      return { ...claims };
    },
  };
}

/** Insertion-ordered Map as a bounded cache: a hit moves the token to the young end. */
function createVerifiedCache(size: number) {
  const entries = new Map<string, TokenClaims>();
  return {
    get(token: string): TokenClaims | undefined {
      const claims = entries.get(token);
      if (claims) {
        entries.delete(token);
        entries.set(token, claims);
      }
      return claims;
    },
    set(token: string, claims: TokenClaims) {
      if (size <= 0) return;
      entries.set(token, claims);
      if (entries.size > size) entries.delete(entries.keys().next().value as string);
    },
    delete: (token: string) => entries.delete(token),
  };
}
