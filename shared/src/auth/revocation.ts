import type { Redis } from 'ioredis';
import { orUnavailable } from '../errors.ts';

/**
 * Cluster-wide denylist of token ids. An entry lives until the token would
 * have expired anyway, so the list never outgrows the set of live tokens.
 */
export interface RevocationList {
  revoke(jti: string, expiresAtSeconds: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

export function createRevocationList(redis: Redis, prefix: string): RevocationList {
  const key = (jti: string) => `${prefix}revoked:${jti}`;
  return {
    // Logout and refresh must not report success for a revocation that was not stored.
    async revoke(jti, expiresAtSeconds) {
      const ttlMs = expiresAtSeconds * 1000 - Date.now();
      if (ttlMs > 0) await orUnavailable(() => redis.set(key(jti), '1', 'PX', ttlMs), 'cannot revoke tokens right now; try again shortly');
    },
    // Fails closed: a token whose revocation cannot be checked is not accepted.
    isRevoked: (jti) =>
      orUnavailable(async () => (await redis.exists(key(jti))) === 1, 'cannot verify tokens right now; try again shortly'),
  };
}
