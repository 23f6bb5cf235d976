import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { findTokenStatus, insertRevocation, listLiveRevocations, purgeExpiredRevocations, raiseTokensValidAfter } from '../db/queries/revocations.ts';
import type { DB } from '../db/schema.ts';
import { orUnavailable, unauthenticated } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { defineScript, type RedisClient } from '../redis.ts';

/** The parts of a token that revocation looks at. */
export interface RevocableToken {
  jti: string;
  /** The user (`sub`). */
  id: string;
  /** Issued at / expires at, seconds since the epoch. */
  iat: number;
  exp: number;
}

/**
 * Cluster-wide revocations, kept in PostgreSQL (the truth) and cached in Redis
 * (the fast path): revoked token ids until the token would have expired
 * anyway, and per user a cut-off ("log out everywhere") before which every
 * token is refused. See docs/architecture.md#authentication-and-revocation.
 */
export interface RevocationList {
  /**
   * Revokes one token. Returns false when it already was revoked: the
   * PostgreSQL insert is atomic, so of concurrent callers exactly one gets true.
   */
  revoke(token: RevocableToken): Promise<boolean>;
  /** Revokes every token of the user issued so far; returns the cut-off (tokens with `iat` <= it are refused). */
  revokeAllOf(userId: string): Promise<number>;
  isRevoked(token: Omit<RevocableToken, 'exp'>): Promise<boolean>;
}

const CANNOT_CHECK = 'cannot verify tokens right now; try again shortly';
const CANNOT_REVOKE = 'cannot revoke tokens right now; try again shortly';
/** How long one process may take to rebuild the cache before another may try. */
const WARMING_LEASE_MS = 30_000;
const REBUILD_BATCH = 1000;

/** Sets KEYS[1] to ARGV[1] (expiring in ARGV[2] seconds) unless it already holds a larger number. */
const RAISE = `local cur = redis.call('get', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;
/** Marks the cache warm only if our rebuild's lease is still there, i.e. Redis was not emptied meanwhile. */
const FINISH_WARMING = `if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[2], '1')
  redis.call('del', KEYS[1])
  return 1
end
return 0`;

/**
 * The cache's keys, all under one hash tag, `{revocations}`, so all of them live in
 * one Redis Cluster slot (on one master). That is what the cache's correctness rests
 * on, not only what lets the fast path read three keys with one MGET: the `warm`
 * marker vouches for every revocation key, so it must be lost together with them. A
 * master restarting empty, or a failover to a replica that lacks recent writes,
 * then takes the marker with it and the check goes back to PostgreSQL. Keys spread
 * over several masters could lose a revocation on one while another still says warm.
 */
export const revocationKeys = (prefix: string) => {
  const base = `${prefix}{revocations}:`;
  return {
    warm: `${base}warm`,
    warming: `${base}warming`,
    token: (jti: string) => `${base}jti:${jti}`,
    user: (userId: string) => `${base}user:${userId}`,
  };
};

export function createRevocationList(deps: {
  redis: RedisClient;
  prefix: string;
  db: Kysely<DB>;
  /** The longest lifetime a token can have: a cut-off older than this refuses nothing. */
  maxTokenLifetimeSeconds: number;
  logger?: Logger;
  now?: () => number;
}): RevocationList {
  const { redis, db, maxTokenLifetimeSeconds } = deps;
  const now = () => deps.now?.() ?? Date.now();
  const { warm: warmKey, warming: warmingKey, token: tokenKey, user: userKey } = revocationKeys(deps.prefix);
  const cutoffSeconds = (at: Date) => Math.floor(at.getTime() / 1000);
  const cutoffTtl = maxTokenLifetimeSeconds + 60;
  const raise = defineScript(redis, 'chatRevocations_raise', RAISE);
  const finishWarming = defineScript(redis, 'chatRevocations_finishWarming', FINISH_WARMING);

  let rebuilding: Promise<void> | undefined;

  /**
   * Copies every live revocation from PostgreSQL into Redis, then sets the
   * warm marker. A lease key taken first and checked atomically when setting
   * the marker means a Redis emptied during the copy stays cold. A revocation
   * committed after the copy's snapshot writes its own cache key after its
   * commit, so the warm cache never lacks one.
   */
  async function rebuild() {
    const lease = randomUUID();
    if ((await redis.set(warmingKey, lease, 'PX', WARMING_LEASE_MS, 'NX')) !== 'OK') return;
    const { tokens, cutoffs } = await listLiveRevocations(db, new Date(now() - maxTokenLifetimeSeconds * 1000));
    for (let i = 0; i < tokens.length; i += REBUILD_BATCH) {
      const pipeline = redis.pipeline();
      for (const t of tokens.slice(i, i + REBUILD_BATCH)) {
        const ttl = t.expires_at.getTime() - now();
        if (ttl > 0) pipeline.set(tokenKey(t.jti), '1', 'PX', ttl);
      }
      await pipeline.exec();
    }
    for (let i = 0; i < cutoffs.length; i += REBUILD_BATCH) {
      const pipeline = redis.pipeline();
      for (const c of cutoffs.slice(i, i + REBUILD_BATCH)) {
        pipeline.eval(RAISE, 1, userKey(c.userId), String(cutoffSeconds(c.validAfter)), String(cutoffTtl));
      }
      await pipeline.exec();
    }
    await finishWarming([warmingKey, warmKey], [lease]);
  }

  function startRebuild() {
    rebuilding ??= rebuild()
      .catch((error: unknown) => deps.logger?.warn({ err: error }, 'rebuilding the revocation cache failed'))
      .finally(() => {
        rebuilding = undefined;
      });
  }

  return {
    async revoke(token) {
      // PostgreSQL first: it is the record, and its primary key is the consume-once gate.
      const inserted = await insertRevocation(db, { jti: token.jti, userId: token.id, expiresAt: new Date(token.exp * 1000) });
      const ttlMs = token.exp * 1000 - now();
      // Logout and refresh must not report success for a revocation the cache may lack.
      if (ttlMs > 0) await orUnavailable(() => redis.set(tokenKey(token.jti), '1', 'PX', ttlMs), CANNOT_REVOKE);
      // Opportunistic clean-up; a failure here only leaves rows for the next revocation.
      purgeExpiredRevocations(db, 100).catch((error: unknown) => deps.logger?.warn({ err: error }, 'purging expired revocations failed'));
      return inserted;
    },

    async revokeAllOf(userId) {
      const at = await raiseTokensValidAfter(db, userId, new Date(now()));
      if (!at) throw unauthenticated('user no longer exists');
      const seconds = cutoffSeconds(at);
      await orUnavailable(() => raise([userKey(userId)], [String(seconds), String(cutoffTtl)]), CANNOT_REVOKE);
      return seconds;
    },

    // Fails closed: a token whose revocation cannot be checked is not accepted.
    async isRevoked(token) {
      const [warm, revoked, cutoff] = await orUnavailable(() => redis.mget(warmKey, tokenKey(token.jti), userKey(token.id)), CANNOT_CHECK);
      if (warm !== null) return revoked !== null || (cutoff !== null && token.iat <= Number(cutoff));
      // Cold cache (first start, or Redis lost its data): PostgreSQL answers
      // until the rebuild has finished.
      startRebuild();
      const status = await findTokenStatus(db, token.jti, token.id);
      return status.revoked || (status.validAfter !== null && token.iat <= cutoffSeconds(status.validAfter));
    },
  };
}
