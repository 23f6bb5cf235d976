import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeConnections } from '@chat/shared/connections';
import { createDatabase } from '@chat/shared/db';
import { createLogger } from '@chat/shared/logger';
import { TEST_REDIS_URL } from '@chat/shared/testing';
import { createApp } from '../../app.ts';
import { buildAppDeps, type Resources } from '../../dependencies.ts';
import { createUser, startApi, testConfig, type TestApi } from '../../../test/harness.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts TCP connections and never says a word: a dependency that hangs. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The real app wired to the given PostgreSQL and Redis, as main would build it. */
function appWith(databaseUrl: string, redisUrl: string, draining = false) {
  const config = testConfig({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl });
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  const resources: Resources = { db: createDatabase(config.database), redis };
  const app = createApp({ ...buildAppDeps(config, resources, createLogger({ level: 'silent', service: 'api' })), draining: () => draining });
  return { app, close: () => closeConnections(resources) };
}

async function timedHealth(app: ReturnType<typeof appWith>['app']) {
  const started = performance.now();
  const res = await app.request('/health');
  return { res, ms: performance.now() - started, body: (await res.json()) as Record<string, unknown> };
}

describe('GET /health', () => {
  it('reports healthy with both dependencies connected, without authentication', async () => {
    const res = await api.fetch('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'healthy',
      database: 'connected',
      redis: 'connected',
      timestamp: expect.stringMatching(ISO) as string,
    });
  });

  it('answers 503 naming PostgreSQL when the database is down', async () => {
    const { app, close } = appWith(`postgres://postgres@127.0.0.1:${await closedPort()}/chat`, TEST_REDIS_URL);
    try {
      const { res, body } = await timedHealth(app);
      expect(res.status).toBe(503);
      expect(body).toEqual({ status: 'unhealthy', database: 'disconnected', redis: 'connected', timestamp: expect.stringMatching(ISO) as string });
    } finally {
      await close();
    }
  });

  it('answers 503 naming Redis when Redis is down', async () => {
    const { app, close } = appWith(api.config.database.url, `redis://127.0.0.1:${await closedPort()}`);
    try {
      const { res, body, ms } = await timedHealth(app);
      expect(res.status).toBe(503);
      expect(body).toMatchObject({ status: 'unhealthy', database: 'connected', redis: 'disconnected' });
      expect(ms).toBeLessThan(3_000);
    } finally {
      await close();
    }
  });

  it('answers 503 within a few seconds when both dependencies accept connections but never reply', async () => {
    const [pgHole, redisHole] = await Promise.all([blackHole(), blackHole()]);
    const { app, close } = appWith(`postgres://postgres@127.0.0.1:${pgHole.port}/chat`, `redis://127.0.0.1:${redisHole.port}`);
    try {
      const { res, body, ms } = await timedHealth(app);
      expect(res.status).toBe(503);
      expect(body).toMatchObject({ status: 'unhealthy', database: 'disconnected', redis: 'disconnected' });
      expect(ms).toBeLessThan(4_000);
    } finally {
      await Promise.all([pgHole.close(), redisHole.close()]);
      await close();
    }
  });

  it('keeps refusing protected routes cleanly, not with a 500, while Redis is down', async () => {
    const { app, close } = appWith(api.config.database.url, `redis://127.0.0.1:${await closedPort()}`);
    try {
      const res = await app.request('/api/ws/users', { headers: { authorization: 'Bearer not.a.jwt' } });
      expect(res.status).toBe(401);
    } finally {
      await close();
    }
  });

  it('answers a valid token with 503 and Retry-After while Redis is down: revocation cannot be checked, so it fails closed', async () => {
    const user = await createUser(api);
    const { app, close } = appWith(api.config.database.url, `redis://127.0.0.1:${await closedPort()}`);
    try {
      const res = await app.request('/api/auth/profile', { headers: { authorization: `Bearer ${user.token}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({ error: 'cannot verify tokens right now; try again shortly', code: 'unavailable' });
    } finally {
      await close();
    }
  });
});

describe('GET /health/live and /health/ready', () => {
  it('answers live and ready with both dependencies connected', async () => {
    const live = await api.fetch('/health/live');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'alive', timestamp: expect.stringMatching(ISO) as string });
    const ready = await api.fetch('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      database: 'connected',
      redis: 'connected',
      draining: false,
      timestamp: expect.stringMatching(ISO) as string,
    });
  });

  it('is alive but not ready while PostgreSQL is down', async () => {
    const { app, close } = appWith(`postgres://postgres@127.0.0.1:${await closedPort()}/chat`, TEST_REDIS_URL);
    try {
      expect((await app.request('/health/live')).status).toBe(200);
      const ready = await app.request('/health/ready');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'not_ready', database: 'disconnected', redis: 'connected' });
    } finally {
      await close();
    }
  });

  it('is alive but not ready while draining for shutdown, with both dependencies up', async () => {
    const { app, close } = appWith(inject('databaseUrl'), TEST_REDIS_URL, true);
    try {
      expect((await app.request('/health/live')).status).toBe(200);
      const ready = await app.request('/health/ready');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'not_ready', database: 'connected', redis: 'connected', draining: true });
    } finally {
      await close();
    }
  });
});
