import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '@chat/shared/testing';
import { tapEvents } from '../../../test/events.ts';
import { createUser, settledStatus, startApi, type TestApi } from '../../../test/harness.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

describe('revocations are kept in PostgreSQL', () => {
  it('a logged-out token stays refused after Redis restarts empty, while other tokens still work', async () => {
    const redis = await startRedisServer();
    const own = await startApi({ REDIS_URL: redis.url });
    let revived: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      const user = await createUser(own);
      const kept = await createUser(own);
      expect((await own.fetch('/api/auth/logout', { method: 'POST', token: user.token })).status).toBe(200);
      expect((await own.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);

      await redis.kill();
      revived = await startRedisServer(redis.port);
      expect(await settledStatus(() => own.fetch('/api/auth/profile', { token: kept.token }))).toBe(200);
      const res = await own.fetch('/api/auth/profile', { token: user.token });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'token revoked', code: 'unauthenticated' });
      // The cache is rebuilt from PostgreSQL, after which Redis alone answers.
      const probe = own.resources.redis;
      const warmKey = `${own.config.redis.prefix}{revocations}:warm`;
      await expect.poll(() => probe.exists(warmKey), { message: 'the revocation cache becomes warm', timeout: 5_000, interval: 50 }).toBe(1);
      expect(await probe.exists(`${own.config.redis.prefix}{revocations}:jti:${decodeJwt(user.token).jti}`)).toBe(1);
      expect((await own.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
      expect((await own.fetch('/api/auth/profile', { token: kept.token })).status).toBe(200);
    } finally {
      await own.close().catch(() => {});
      await revived?.stop();
      await redis.stop();
    }
  });
});

describe('refresh', () => {
  it('consumes the old token exactly once: of 20 concurrent refreshes one wins, the rest get 401', async () => {
    // Tokens that live 12 minutes are inside the refresh window from birth.
    const shortLived = await startApi({ JWT_EXPIRY_HOURS: '0.2', REDIS_PREFIX: api.config.redis.prefix });
    const tap = await tapEvents(api);
    try {
      const user = await createUser(shortLived);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => shortLived.fetch('/api/auth/refresh', { method: 'POST', token: user.token })),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 401)).toHaveLength(19);
      const winner = results.find((r) => r.status === 200);
      const { token } = (await winner?.json()) as { token: string };
      expect((await shortLived.fetch('/api/auth/profile', { token })).status).toBe(200);
      expect((await shortLived.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
      // The old token's sockets are disconnected on every gateway.
      expect(await tap.next('token_revoked', (r) => r.userId === user.id)).toEqual({ userId: user.id, jti: decodeJwt(user.token).jti });
    } finally {
      await tap.close();
      await shortLived.close();
    }
  });
});

describe('POST /api/auth/logout-all', () => {
  it("revokes every token of the caller (not other users'), clears the cookie and announces it", async () => {
    const tap = await tapEvents(api);
    try {
      const user = await createUser(api);
      const other = await createUser(api);
      const second = (await (
        await api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } })
      ).json()) as {
        token: string;
      };
      const res = await api.fetch('/api/auth/logout-all', { method: 'POST', token: user.token });
      expect(res.status).toBe(200);
      expect(res.headers.getSetCookie().join()).toMatch(/jwt_token=;.*Max-Age=0/i);
      for (const token of [user.token, second.token]) {
        const refused = await api.fetch('/api/auth/profile', { token });
        expect(refused.status).toBe(401);
        expect(await refused.json()).toMatchObject({ error: 'token revoked' });
      }
      expect((await api.fetch('/api/auth/profile', { token: other.token })).status).toBe(200);
      const event = await tap.next('user_tokens_revoked', (r) => r.userId === user.id);
      expect(event.issuedNotAfter).toBeGreaterThanOrEqual(decodeJwt(second.token).iat ?? Infinity);

      // The cut-off has one-second resolution (a token's iat): a login in a later second works again.
      const nextSecond = (event.issuedNotAfter + 1) * 1000 - Date.now();
      if (nextSecond > 0) await new Promise((resolve) => setTimeout(resolve, nextSecond + 10));
      const again = await api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } });
      const { token } = (await again.json()) as { token: string };
      expect((await api.fetch('/api/auth/profile', { token })).status).toBe(200);
      expect((await api.fetch('/api/auth/logout-all', { method: 'POST' })).status).toBe(401);
    } finally {
      await tap.close();
    }
  });

  it('survives a Redis restart too', async () => {
    const redis = await startRedisServer();
    const own = await startApi({ REDIS_URL: redis.url });
    let revived: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      const user = await createUser(own);
      const kept = await createUser(own);
      expect((await own.fetch('/api/auth/logout-all', { method: 'POST', token: user.token })).status).toBe(200);
      await redis.kill();
      revived = await startRedisServer(redis.port);
      expect(await settledStatus(() => own.fetch('/api/auth/profile', { token: kept.token }))).toBe(200);
      expect((await own.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
    } finally {
      await own.close().catch(() => {});
      await revived?.stop();
      await redis.stop();
    }
  });
});
