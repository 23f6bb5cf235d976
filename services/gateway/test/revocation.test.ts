import { io as ioClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { startRedisServer, uniquePrefix } from '@chat/shared/testing';
import { createUser, settledStatus, startApi, type TestApi } from '../../api/test/harness.ts';
import { connectIo, connectWs, refusedWs, startGateway, startTwoGateways, type TestGateway } from './harness.ts';

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(async () => cluster.close());

/** Resolves with the connect_error message of a refused Socket.IO handshake. */
function refusedIo(gw: TestGateway, token: string): Promise<string> {
  return connectIo(gw, token).then(
    (client) => {
      client.socket.close();
      throw new Error('the Socket.IO handshake was accepted');
    },
    (error: Error) => error.message,
  );
}

describe('a revoked token after Redis restarts empty', () => {
  it('is refused on REST, Socket.IO and the plain WebSocket', async () => {
    const redis = await startRedisServer();
    const prefix = uniquePrefix();
    let api: TestApi | undefined;
    let gw: TestGateway | undefined;
    let revived: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      api = await startApi({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
      gw = await startGateway(prefix, { REDIS_URL: redis.url });
      const [user, kept] = await Promise.all([createUser(api), createUser(api)]);
      const before = await connectWs(gw, user.token);
      expect((await api.fetch('/api/auth/logout', { method: 'POST', token: user.token })).status).toBe(200);
      expect((await before.closed).code).toBe(4001);

      await redis.kill();
      revived = await startRedisServer(redis.port);
      const live = api;
      expect(await settledStatus(() => live.fetch('/api/auth/profile', { token: kept.token }))).toBe(200);
      expect((await api.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
      // The gateway's Redis client may still be reconnecting: wait until a good token is let in.
      const liveGw = gw;
      await vi.waitFor(async () => (await connectIo(liveGw, kept.token)).socket.close(), { timeout: 10_000, interval: 50 });
      expect(await refusedIo(gw, user.token)).toBe('token revoked');
      expect(await refusedWs(gw, user.token)).toEqual({ status: 401, body: { error: 'token revoked', code: 'unauthenticated' } });
    } finally {
      await gw?.close();
      await api?.close().catch(() => {});
      await revived?.stop();
      await redis.stop();
    }
  });
});

describe('a logout racing hundreds of handshakes with its token', () => {
  it('leaves no socket of either kind open, on either gateway', async () => {
    const { api, g1, g2 } = cluster;
    const user = await createUser(api);
    const HANDSHAKES = 300;
    let opened = 0;
    let logoutStarted: (() => void) | undefined;
    const enoughOpen = new Promise<void>((resolve) => (logoutStarted = resolve));
    const noteOpen = () => {
      if (++opened === 5) logoutStarted?.();
    };
    const stillOpen = new Set<{ close(): void }>();

    /** Each resolves once its connection is refused or closed again; `stillOpen` holds those still open. */
    const attempts = Array.from({ length: HANDSHAKES }, (_, i) => {
      const gw = i % 2 === 0 ? g1 : g2;
      if (i % 4 < 2) {
        return new Promise<string>((resolve) => {
          const socket = ioClient(gw.url, { auth: { token: user.token }, transports: ['websocket'], reconnection: false, forceNew: true });
          const handle = { close: () => socket.close() };
          socket.on('connect', () => {
            stillOpen.add(handle);
            noteOpen();
          });
          socket.on('connect_error', () => resolve('refused'));
          socket.on('disconnect', () => {
            stillOpen.delete(handle);
            resolve('closed');
          });
        });
      }
      return new Promise<string>((resolve) => {
        const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
        url.searchParams.set('token', user.token);
        const ws = new WebSocket(url);
        const handle = { close: () => ws.terminate() };
        ws.on('open', () => {
          stillOpen.add(handle);
          noteOpen();
        });
        ws.on('unexpected-response', () => {
          ws.terminate();
          resolve('refused');
        });
        ws.on('error', () => {});
        ws.on('close', () => {
          stillOpen.delete(handle);
          resolve('closed');
        });
      });
    });

    await enoughOpen;
    expect((await api.fetch('/api/auth/logout', { method: 'POST', token: user.token })).status).toBe(200);
    const outcomes = await Promise.race([
      Promise.all(attempts),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${stillOpen.size} sockets still open`)), 15_000)),
    ]).finally(() => {
      for (const handle of stillOpen) handle.close();
    });
    expect(outcomes).toHaveLength(HANDSHAKES);
    expect(outcomes.filter((o) => o === 'closed').length).toBeGreaterThanOrEqual(5);
    expect(stillOpen.size).toBe(0);
  }, 30_000);
});

describe('refresh and logout-all close sockets everywhere', () => {
  it('a refresh disconnects the sockets of the token it consumed', async () => {
    const prefix = cluster.api.config.redis.prefix;
    const shortLived = await startApi({ JWT_EXPIRY_HOURS: '0.2', REDIS_PREFIX: prefix });
    try {
      const user = await createUser(shortLived);
      const ws = await connectWs(cluster.g1, user.token);
      const io = await connectIo(cluster.g2, user.token);
      expect((await shortLived.fetch('/api/auth/refresh', { method: 'POST', token: user.token })).status).toBe(200);
      expect((await ws.closed).code).toBe(4001);
      expect(await io.disconnected).toBe('io server disconnect');
    } finally {
      await shortLived.close();
    }
  });

  it("logout-all disconnects every socket of the caller on every gateway, and nobody else's", async () => {
    const { api, g1, g2 } = cluster;
    const [user, other] = await Promise.all([createUser(api), createUser(api)]);
    const login = await api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } });
    const { token: second } = (await login.json()) as { token: string };
    const sockets = [await connectWs(g1, user.token), await connectWs(g2, second)];
    const ios = [await connectIo(g1, second), await connectIo(g2, user.token)];
    const bystander = await connectWs(g1, other.token);
    try {
      expect((await api.fetch('/api/auth/logout-all', { method: 'POST', token: user.token })).status).toBe(200);
      for (const ws of sockets) expect((await ws.closed).code).toBe(4001);
      for (const io of ios) expect(await io.disconnected).toBe('io server disconnect');
      bystander.send({ type: 'ping' });
      await bystander.inbox.next((f) => f.type === 'pong', 'the bystander still served');
      expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
      expect(await refusedWs(g2, second)).toEqual({ status: 401, body: { error: 'token revoked', code: 'unauthenticated' } });
    } finally {
      bystander.ws.close();
    }
  });
});
