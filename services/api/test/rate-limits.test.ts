import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@chat/shared/testing';
import { createUser, startApi, uniqueName, type TestApi } from './harness.ts';

// Every request comes from 127.0.0.1, which TRUSTED_PROXIES trusts by default, so
// a test picks the client address it speaks for with X-Forwarded-For, as nginx would.
let address = 0;
const newAddress = () => `203.0.113.${(address++ % 250) + 1}`;

const login = (api: TestApi, username: string, password: string, from: string) =>
  api.fetch('/api/auth/login', { method: 'POST', json: { username, password }, headers: { 'x-forwarded-for': from } });
const register = (api: TestApi, from: string) => {
  const username = uniqueName('rl');
  return api.fetch('/api/auth/register', {
    method: 'POST',
    json: { username, email: `${username}@example.test`, password: 'password123' },
    headers: { 'x-forwarded-for': from },
  });
};

/** The exact refusal: 429, Retry-After in whole seconds, the usual error body plus retry_after. */
async function expectRateLimited(res: Response, error: string): Promise<number> {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
  expect(await res.json()).toEqual({ error, code: 'rate_limited', retry_after: retryAfter });
  return retryAfter;
}

describe('login limits', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ LOGIN_ADDRESS_LIMIT: '3', LOGIN_ADDRESS_WINDOW: '15m', LOGIN_ACCOUNT_LIMIT: '2', LOGIN_ACCOUNT_LOCK: '10m' });
  });
  afterAll(async () => api.close());

  it('refuses the attempt after LOGIN_ADDRESS_LIMIT from one address, whatever the accounts; other addresses go on', async () => {
    const user = await createUser(api);
    const from = newAddress();
    expect((await login(api, uniqueName(), 'wrong password', from)).status).toBe(401);
    expect((await login(api, uniqueName(), 'wrong password', from)).status).toBe(401);
    expect((await login(api, user.username, user.password, from)).status).toBe(200);
    // Even the right password is refused now: the limit is checked before the password.
    const retryAfter = await expectRateLimited(await login(api, user.username, user.password, from), 'too many login attempts; try again later');
    expect(retryAfter).toBeGreaterThan(14 * 60);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect((await login(api, user.username, user.password, newAddress())).status).toBe(200);
  });

  it('locks an account name after LOGIN_ACCOUNT_LIMIT failures, known or unknown alike, in status, headers and body', async () => {
    const user = await createUser(api);
    const unknown = uniqueName();
    const answers: Array<{ status: number; retryAfter: string | null; body: string }> = [];
    for (const username of [user.username, unknown]) {
      // Each attempt from a fresh address: only the per-account limit is in play.
      expect((await login(api, username, 'wrong password', newAddress())).status).toBe(401);
      expect((await login(api, username.toUpperCase(), 'wrong password', newAddress())).status).toBe(401);
      const locked = await login(api, username, username === user.username ? user.password : 'wrong password', newAddress());
      answers.push({ status: locked.status, retryAfter: locked.headers.get('retry-after'), body: await locked.text() });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.status).toBe(429);
    // The lock (LOGIN_ACCOUNT_LOCK = 10m), not the window, sets the wait.
    expect(Number(answers[0]?.retryAfter)).toBeGreaterThan(9 * 60);
    expect(JSON.parse(answers[0]?.body ?? '{}')).toMatchObject({ code: 'rate_limited', error: 'too many login attempts; try again later' });
  });

  it('clears the account count on a successful login', async () => {
    const user = await createUser(api);
    expect((await login(api, user.username, 'wrong password', newAddress())).status).toBe(401);
    expect((await login(api, user.username, user.password, newAddress())).status).toBe(200);
    expect((await login(api, user.username, 'wrong password', newAddress())).status).toBe(401);
    expect((await login(api, user.username, user.password, newAddress())).status).toBe(200);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const direct = await startApi({ TRUSTED_PROXIES: '192.0.2.1', LOGIN_ADDRESS_LIMIT: '2', REGISTER_ADDRESS_LIMIT: '1' });
    try {
      // Each request claims another address; all of them are 127.0.0.1 to this replica.
      expect((await login(direct, uniqueName(), 'wrong password', newAddress())).status).toBe(401);
      expect((await login(direct, uniqueName(), 'wrong password', newAddress())).status).toBe(401);
      await expectRateLimited(await login(direct, uniqueName(), 'wrong password', newAddress()), 'too many login attempts; try again later');
      const res = await direct.fetch('/api/auth/login', {
        method: 'POST',
        json: { username: uniqueName(), password: 'x' },
        headers: { 'x-real-ip': newAddress() },
      });
      expect(res.status).toBe(429);
    } finally {
      await direct.close();
    }
  });
});

describe('registration limit', () => {
  it('refuses the registration after REGISTER_ADDRESS_LIMIT from one address', async () => {
    const api = await startApi({ REGISTER_ADDRESS_LIMIT: '2', REGISTER_ADDRESS_WINDOW: '1h' });
    try {
      const from = newAddress();
      expect((await register(api, from)).status).toBe(201);
      expect((await register(api, from)).status).toBe(201);
      const retryAfter = await expectRateLimited(await register(api, from), 'too many registrations; try again later');
      expect(retryAfter).toBeGreaterThan(59 * 60);
      expect((await register(api, newAddress())).status).toBe(201);
    } finally {
      await api.close();
    }
  });
});

describe('message limit over REST', () => {
  it('answers 429 with Retry-After at MESSAGE_RATE_LIMIT, stores nothing then, and leaves other users alone', async () => {
    const api = await startApi({ MESSAGE_RATE_LIMIT: '3', MESSAGE_RATE_WINDOW: '1m' });
    try {
      const [alice, bob] = [await createUser(api), await createUser(api)];
      for (let i = 0; i < 3; i++) {
        expect((await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content: `m${i}` } })).status).toBe(201);
      }
      const refused = await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content: 'one too many' } });
      expect(await expectRateLimited(refused, 'too many messages; slow down')).toBeLessThanOrEqual(60);
      const history = (await (await api.fetch('/api/messages?limit=50', { token: alice.token })).json()) as { messages?: Array<{ content: string }> };
      expect(JSON.stringify(history)).not.toContain('one too many');
      expect((await api.fetch('/api/messages', { method: 'POST', token: bob.token, json: { content: 'hi' } })).status).toBe(201);
    } finally {
      await api.close();
    }
  });
});

describe('two API replicas sharing a Redis prefix', () => {
  it('draw on one allowance for logins, registrations and messages', async () => {
    const env = { LOGIN_ADDRESS_LIMIT: '4', REGISTER_ADDRESS_LIMIT: '3', MESSAGE_RATE_LIMIT: '4' };
    const a = await startApi(env);
    const b = await startApi({ ...env, REDIS_PREFIX: a.config.redis.prefix });
    try {
      const from = newAddress();
      expect((await register(a, from)).status).toBe(201);
      expect((await register(b, from)).status).toBe(201);
      expect((await register(a, from)).status).toBe(201);
      expect((await register(b, from)).status).toBe(429);

      const loginFrom = newAddress();
      for (const api of [a, b, a, b]) expect((await login(api, uniqueName(), 'wrong password', loginFrom)).status).toBe(401);
      expect((await login(a, uniqueName(), 'wrong password', loginFrom)).status).toBe(429);
      expect((await login(b, uniqueName(), 'wrong password', loginFrom)).status).toBe(429);

      const user = await createUser(a);
      for (const api of [a, b, a, b]) {
        expect((await api.fetch('/api/messages', { method: 'POST', token: user.token, json: { content: 'x' } })).status).toBe(201);
      }
      expect((await b.fetch('/api/messages', { method: 'POST', token: user.token, json: { content: 'x' } })).status).toBe(429);
      expect((await a.fetch('/api/messages', { method: 'POST', token: user.token, json: { content: 'x' } })).status).toBe(429);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('a flood of junk logins from one address', () => {
  it('is stopped before hashing, and a real user elsewhere logs in meanwhile', async () => {
    // Two hashes at a time and 8 waiting: without the address limit, 300 junk
    // logins would fill the queue and the real user would get 503.
    const api = await startApi({ PASSWORD_HASH_CONCURRENCY: '2', PASSWORD_HASH_QUEUE: '8', LOGIN_ADDRESS_LIMIT: '5' });
    try {
      const user = await createUser(api);
      const attacker = newAddress();
      const junk = Array.from({ length: 300 }, () => login(api, uniqueName('junk'), 'wrong password', attacker));
      const real = login(api, user.username, user.password, newAddress());
      const statuses = await Promise.all(junk.map(async (r) => (await r).status));
      expect((await real).status).toBe(200);
      // At most LOGIN_ADDRESS_LIMIT junk attempts reached the hasher; the rest were refused without hashing.
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(295);
      expect(
        statuses.every((s) => s === 401 || s === 429 || s === 503),
        statuses.join(','),
      ).toBe(true);
      // And the real user can still log in once the flood is over.
      expect((await login(api, user.username, user.password, newAddress())).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe('while Redis is unreachable', () => {
  let redis: RedisServer;
  let api: TestApi;
  beforeAll(async () => {
    redis = await startRedisServer();
    api = await startApi({ REDIS_URL: redis.url, LOGIN_ADDRESS_LIMIT: '100', REGISTER_ADDRESS_LIMIT: '100' });
  });
  afterAll(async () => {
    await api.close().catch(() => {});
    await redis.stop();
  });

  it('login and registration fail closed with 503 unavailable, before any password is hashed', async () => {
    const user = await createUser(api);
    api.resources.redis.on('error', () => {}); // the reconnect attempts are expected
    await redis.kill();
    const res = await login(api, user.username, user.password, newAddress());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ code: 'unavailable' });
    const reg = await register(api, newAddress());
    expect(reg.status).toBe(503);
    expect(await reg.json()).toMatchObject({ code: 'unavailable' });
  });
});
