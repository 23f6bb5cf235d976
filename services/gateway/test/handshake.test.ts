import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, startApi, type TestApi } from '../../api/test/harness.ts';
import { CURSOR, connectIo, connectWs, refusedWs, startGateway, type TestGateway } from './harness.ts';

let api: TestApi;
let gw: TestGateway;

beforeAll(async () => {
  api = await startApi();
  gw = await startGateway(api.config.redis.prefix);
});
afterAll(async () => {
  await gw.close();
  await api.close();
});

describe('plain WebSocket handshake', () => {
  it.each(['query', 'header', 'cookie'] as const)('accepts the token from the %s and greets with a connection frame', async (via) => {
    const user = await createUser(api);
    const client = await connectWs(gw, user.token, { via });
    expect(client.inbox.items[0]).toEqual({
      type: 'connection',
      status: 'connected',
      user_id: user.id,
      username: user.username,
      cursor: expect.stringMatching(CURSOR) as string,
    });
    client.ws.close();
  });

  it('refuses a missing, forged or revoked token with HTTP 401', async () => {
    const user = await createUser(api);
    const refused = (error: string) => ({ status: 401, body: { error, code: 'unauthenticated' } });
    expect(await refusedWs(gw, undefined)).toMatchObject(refused('authentication required'));
    expect(await refusedWs(gw, `${user.token}x`)).toMatchObject(refused('invalid token'));
    await api.fetch('/api/auth/logout', { method: 'POST', token: user.token });
    expect(await refusedWs(gw, user.token)).toMatchObject(refused('token revoked'));
  });

  it('refuses a foreign browser Origin with HTTP 403 and accepts an allowed one', async () => {
    const user = await createUser(api);
    expect(await refusedWs(gw, user.token, { origin: 'https://evil.example' })).toMatchObject({
      status: 403,
      body: { error: 'origin not allowed', code: 'forbidden' },
    });
    const ok = await connectWs(gw, user.token, { headers: { origin: 'http://localhost:8080' } });
    expect(ok.inbox.items[0]).toMatchObject({ type: 'connection', status: 'connected', user_id: user.id });
    ok.ws.close();
  });

  it('keeps query-string tokens out of the logs', async () => {
    const user = await createUser(api);
    const client = await connectWs(gw, user.token);
    client.send('not json');
    await client.inbox.next((f) => f.type === 'error');
    client.ws.close();
    await client.closed;
    expect(gw.logs.join('')).not.toContain(user.token);
  });
});

describe('Socket.IO handshake', () => {
  it.each([['websocket'], ['polling', 'websocket']] as const)('connects over %s with the auth payload', async (...transports) => {
    const user = await createUser(api);
    const client = await connectIo(gw, user.token, { transports: [...transports] });
    expect(client.socket.connected).toBe(true);
    client.socket.close();
  });

  it('accepts the token from the cookie or the Authorization header', async () => {
    const user = await createUser(api);
    const byCookie = await connectIo(gw, undefined, { transports: ['polling'], headers: { cookie: `jwt_token=${user.token}` } });
    const byHeader = await connectIo(gw, undefined, { transports: ['polling'], headers: { authorization: `Bearer ${user.token}` } });
    expect(byCookie.socket.connected).toBe(true);
    expect(byHeader.socket.connected).toBe(true);
    byCookie.socket.close();
    byHeader.socket.close();
  });

  it('refuses a missing, forged or revoked token with connect_error', async () => {
    const user = await createUser(api);
    // connect_error: the message, and the code in the error's `data`.
    const refused = (message: string) => ({ message, data: { code: 'unauthenticated' } });
    await expect(connectIo(gw, undefined)).rejects.toMatchObject(refused('authentication required'));
    await expect(connectIo(gw, 'forged.token.value')).rejects.toMatchObject(refused('invalid token'));
    await api.fetch('/api/auth/logout', { method: 'POST', token: user.token });
    await expect(connectIo(gw, user.token)).rejects.toMatchObject(refused('token revoked'));
  });

  it('refuses a foreign Origin before the session starts', async () => {
    const user = await createUser(api);
    await expect(connectIo(gw, user.token, { transports: ['polling'], headers: { origin: 'https://evil.example' } })).rejects.toThrow();
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    // Engine.IO answers this one itself, in its own error shape: code 4 is its FORBIDDEN.
    expect(await res.json()).toEqual({ code: 4, message: 'origin not allowed' });
  });
});

describe('gateway HTTP', () => {
  it('reports health with the database and Redis', async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'healthy', database: 'connected', redis: 'connected', gateway_id: gw.config.gatewayId });
  });

  it('is live and ready with both dependencies connected', async () => {
    expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    const ready = await fetch(`${gw.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'connected', redis: 'connected', draining: false });
  });

  it('answers other paths with a JSON 404 and plain GETs of the socket path with 426', async () => {
    expect((await fetch(`${gw.url}/nope`)).status).toBe(404);
    expect((await fetch(`${gw.url}/api/ws/connect`)).status).toBe(426);
  });
});
