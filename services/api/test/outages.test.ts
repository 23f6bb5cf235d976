import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startRedisServer, startTcpProxy } from '@chat/shared/testing';
import { createUser, startApi, type TestApi, type TestUser } from './harness.ts';

// While PostgreSQL or Redis cannot be reached, every request gets a 503 with
// Retry-After and code `unavailable`, within the configured timeouts: never a
// 500, never a hang.

let healthy: TestApi;
let user: TestUser;

beforeAll(async () => {
  healthy = await startApi();
  // Tokens are JWTs under the test secret, so every API below accepts this user's.
  user = await createUser(healthy);
});
afterAll(() => healthy.close());

const send = (api: TestApi, content = 'hello', token = user.token) => api.fetch('/api/messages', { method: 'POST', token, json: { content } });

async function expectUnavailable(res: Response) {
  const body = (await res.json()) as { code: string; error: string };
  expect({ status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code }).toEqual({
    status: 503,
    retryAfter: '1',
    code: 'unavailable',
  });
  // What went wrong stays in the log; the client learns only "not now".
  expect(body.error).not.toMatch(/ECONN|postgres|5432|terminat|redis/i);
}

/** The response, and how long it took. */
async function timed(request: () => Promise<Response>) {
  const started = Date.now();
  const res = await request();
  return { res, ms: Date.now() - started };
}

const unhandled = (api: TestApi) => api.logs.filter((line) => line.msg === 'unhandled error');

/** main.ts logs Redis connection errors; here they would only be ioredis's console warnings. */
const quietRedis = (api: TestApi) => api.resources.redis.on('error', () => {});

describe('PostgreSQL refusing connections', () => {
  let broken: TestApi;
  beforeAll(async () => {
    broken = await startApi({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/chat` });
  });
  afterAll(() => broken.close());

  it('answers a send with 503, Retry-After and code unavailable', async () => {
    await expectUnavailable(await send(broken));
  });

  it('answers reads, log in and room creation the same way', async () => {
    await expectUnavailable(await broken.fetch('/api/messages', { token: user.token }));
    await expectUnavailable(await broken.fetch('/api/auth/profile', { token: user.token }));
    await expectUnavailable(await broken.fetch('/api/rooms', { method: 'POST', token: user.token, json: { name: 'r' } }));
    await expectUnavailable(await broken.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } }));
    expect(unhandled(broken)).toEqual([]);
  });
});

describe('PostgreSQL terminating the app’s connections mid-run', () => {
  const appName = `outage_${randomBytes(4).toString('hex')}`;
  let api: TestApi;
  beforeAll(async () => {
    // Tagged, so that only this app's backends are terminated, not other test files'.
    const url = new URL(inject('databaseUrl'));
    url.searchParams.set('application_name', appName);
    api = await startApi({ DATABASE_URL: url.toString(), DB_POOL_MAX: '4' });
  });
  afterAll(() => api.close());

  async function terminateApp(): Promise<number> {
    const admin = new pg.Client({ connectionString: inject('databaseUrl') });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        `select count(*) filter (where pg_terminate_backend(pid))::int as n
           from pg_stat_activity where datname = current_database() and application_name = $1`,
        [appName],
      );
      return rows[0]!.n;
    } finally {
      await admin.end();
    }
  }

  it('answers every send with 201 or 503, never 500, and recovers', async () => {
    let stop = false;
    const outcomes: Array<{ status: number; retryAfter: string | null; code: string | undefined }> = [];
    const sender = async () => {
      while (!stop) {
        const res = await send(api, 'during terminations');
        const body = (await res.json()) as { code?: string };
        outcomes.push({ status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code });
      }
    };
    const senders = Array.from({ length: 4 }, sender);
    let terminated = 0;
    for (let round = 0; round < 6; round++) {
      // Pacing the terminations among the sends (the fault under test), not waiting for an outcome.
      await new Promise((resolve) => setTimeout(resolve, 80));
      terminated += await terminateApp();
    }
    stop = true;
    await Promise.all(senders);

    expect(terminated).toBeGreaterThan(0);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.status !== 201 && o.status !== 503)).toEqual([]);
    for (const o of outcomes.filter((x) => x.status === 503)) expect(o).toMatchObject({ retryAfter: '1', code: 'unavailable' });
    expect((await send(api, 'after')).status).toBe(201);
    expect(unhandled(api)).toEqual([]);
  });
});

describe('PostgreSQL that stops answering', () => {
  it('answers 503 within the configured timeouts, for an open connection and a new one, then recovers', async () => {
    const target = new URL(inject('databaseUrl'));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const api = await startApi({ DATABASE_URL: proxy.via(target.toString()), DB_CONNECT_TIMEOUT: '400ms', DB_QUERY_TIMEOUT: '400ms' });
    try {
      // The pool now holds a live connection, which is about to go silent.
      expect((await send(api, 'before')).status).toBe(201);
      proxy.freeze();

      const onOpenConnection = await timed(() => send(api, 'query times out'));
      await expectUnavailable(onOpenConnection.res);
      expect(onOpenConnection.ms).toBeLessThan(2_000);

      const onNewConnection = await timed(() => send(api, 'connect times out'));
      await expectUnavailable(onNewConnection.res);
      expect(onNewConnection.ms).toBeLessThan(2_000);

      proxy.thaw();
      expect((await send(api, 'after')).status).toBe(201);
      expect(unhandled(api)).toEqual([]);
    } finally {
      await proxy.close();
      await api.close();
    }
  });
});

describe('Redis killed', () => {
  it('answers sends, presence and logout with 503 and code unavailable', async () => {
    const redis = await startRedisServer();
    const api = await startApi({ REDIS_URL: redis.url });
    quietRedis(api);
    try {
      const own = await createUser(api);
      await redis.kill();
      // Tokens cannot be checked against the revocation list: refused, not trusted.
      await expectUnavailable(await send(api, 'hello', own.token));
      await expectUnavailable(await api.fetch('/api/ws/users', { token: own.token }));
      await expectUnavailable(await api.fetch('/api/auth/logout', { method: 'POST', token: own.token }));
      expect(unhandled(api)).toEqual([]);
    } finally {
      await redis.stop();
      await api.close();
    }
  });
});

describe('Redis that stops answering', () => {
  it('answers a send with 503 within REDIS_COMMAND_TIMEOUT', async () => {
    const redis = await startRedisServer();
    const api = await startApi({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT: '300ms' });
    quietRedis(api);
    try {
      const own = await createUser(api);
      redis.pause();
      const { res, ms } = await timed(() => send(api, 'hello', own.token));
      await expectUnavailable(res);
      expect(ms).toBeLessThan(1_500);
    } finally {
      redis.resume();
      await redis.stop();
      await api.close();
    }
  });
});
