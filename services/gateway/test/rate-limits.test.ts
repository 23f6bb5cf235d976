import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createUser, startApi, type TestApi } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, startGateway, type TestGateway } from './harness.ts';

// The cluster-wide limits on the gateway side. What they do while Redis is away
// is in outages.test.ts: socket sends are still accepted (the send limit fails
// open) and new connections are refused with `unavailable` (fail closed).

/** A refused plain-WebSocket upgrade: status, headers and JSON body. */
function refusedUpgrade(gw: TestGateway, token: string, headers: Record<string, string> = {}) {
  const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
  url.searchParams.set('token', token);
  const ws = new WebSocket(url, { headers });
  return new Promise<{ status: number; retryAfter: string | undefined; body: unknown }>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        ws.terminate();
      };
      res.once('end', finish);
      res.once('close', finish);
    });
    ws.once('open', () => reject(new Error('handshake was accepted')));
    ws.once('error', () => {});
  });
}

const LIMITED = { error: 'too many messages; slow down', code: 'rate_limited' };

describe('the message limit across REST, Socket.IO and plain WebSocket', () => {
  let api: TestApi;
  let gw: TestGateway;
  const limits = { MESSAGE_RATE_LIMIT: '4', MESSAGE_RATE_WINDOW: '1m' };
  beforeAll(async () => {
    api = await startApi(limits);
    gw = await startGateway(api.config.redis.prefix, limits);
  });
  afterAll(async () => {
    await gw.close();
    await api.close();
  });

  it('counts every transport against one allowance and refuses each with its own shape, leaving the connections usable', async () => {
    const alice = await createUser(api);
    const bob = await createUser(api);
    const io = await connectIo(gw, alice.token);
    const ws = await connectWs(gw, alice.token);
    try {
      expect((await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content: 'rest 1' } })).status).toBe(201);
      expect(await emitMessage(io, { content: 'io 1' })).toMatchObject({ ok: true });
      ws.send({ type: 'message', content: 'ws 1', client_msg_id: 'ws-1' });
      expect(await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'ws-1', 'the ack')).toBeTruthy();
      expect((await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content: 'rest 2' } })).status).toBe(201);

      // The fifth, whichever way it comes, is refused with the wait until the window ends.
      const ack = (await emitMessage(io, { content: 'io 2' })) as { ok: boolean; retry_after?: number };
      expect(ack).toEqual({ ok: false, ...LIMITED, retry_after: expect.any(Number) as number });
      expect(ack.retry_after).toBeGreaterThanOrEqual(1);
      expect(ack.retry_after).toBeLessThanOrEqual(60);

      ws.send({ type: 'message', content: 'ws 2', client_msg_id: 'ws-2' });
      const frame = await ws.inbox.next((f) => f.type === 'error', 'the error frame');
      expect(frame).toEqual({ type: 'error', ...LIMITED, retry_after: expect.any(Number) as number, client_msg_id: 'ws-2' });
      // Without a client_msg_id (the seed's way) the error frame carries none.
      ws.send({ type: 'message', content: 'ws 3' });
      const bare = await ws.inbox.next((f) => f.type === 'error' && f !== frame, 'a second error frame');
      expect(bare).toEqual({ type: 'error', ...LIMITED, retry_after: expect.any(Number) as number });

      const rest = await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content: 'rest 3' } });
      expect(rest.status).toBe(429);
      expect(Number(rest.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      // Both connections stay open and live: a ping is answered, another user's message arrives.
      ws.send({ type: 'ping' });
      await ws.inbox.next((f) => f.type === 'pong', 'pong');
      expect((await api.fetch('/api/messages', { method: 'POST', token: bob.token, json: { content: 'from bob' } })).status).toBe(201);
      await io.inbox.next((e) => e.event === 'message' && e.payload.content === 'from bob', 'bob on Socket.IO');
      await ws.inbox.next((f) => f.type === 'message' && f.message?.content === 'from bob', 'bob on plain WS');
      expect(io.socket.connected).toBe(true);
      expect(ws.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      io.socket.close();
      ws.ws.close();
    }
  });
});

describe('a short message window', () => {
  it('lets the same socket send again once retry_after has passed', async () => {
    const api = await startApi();
    const gw = await startGateway(api.config.redis.prefix, { MESSAGE_RATE_LIMIT: '2', MESSAGE_RATE_WINDOW: '1s' });
    const user = await createUser(api);
    const io = await connectIo(gw, user.token);
    try {
      expect(await emitMessage(io, { content: 'a' })).toMatchObject({ ok: true });
      expect(await emitMessage(io, { content: 'b' })).toMatchObject({ ok: true });
      const refused = (await emitMessage(io, { content: 'c' })) as { ok: boolean; code?: string; retry_after?: number };
      expect(refused).toMatchObject({ ok: false, code: 'rate_limited', retry_after: 1 });
      // The limit is a clock: waiting out the advertised retry_after is the point here.
      await new Promise((resolve) => setTimeout(resolve, (refused.retry_after ?? 1) * 1000 + 50));
      expect(await emitMessage(io, { content: 'd' })).toMatchObject({ ok: true });
    } finally {
      io.socket.close();
      await gw.close();
      await api.close();
    }
  });
});

describe('connections per user, both socket kinds, across gateways', () => {
  it('refuses the connection beyond CONNECT_USER_LIMIT: 429 + Retry-After on plain WS, connect_error on Socket.IO', async () => {
    const api = await startApi();
    const env = { CONNECT_USER_LIMIT: '3', CONNECT_USER_WINDOW: '1m' };
    const [g1, g2] = [await startGateway(api.config.redis.prefix, env), await startGateway(api.config.redis.prefix, env)];
    const user = await createUser(api);
    const other = await createUser(api);
    const io1 = await connectIo(g1, user.token);
    const ws1 = await connectWs(g2, user.token);
    const io2 = await connectIo(g2, user.token);
    try {
      const refused = await refusedUpgrade(g1, user.token);
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(refused.body).toEqual({
        error: 'too many new connections for this user; try again later',
        code: 'rate_limited',
        retry_after: Number(refused.retryAfter),
      });
      await expect(connectIo(g2, user.token)).rejects.toMatchObject({
        message: 'too many new connections for this user; try again later',
        data: { code: 'rate_limited', retry_after: expect.any(Number) as number },
      });
      // Another user is not affected, and the open connections go on working.
      (await connectWs(g1, other.token)).ws.close();
      ws1.send({ type: 'ping' });
      await ws1.inbox.next((f) => f.type === 'pong', 'pong');
      expect(await emitMessage(io1, { content: 'still here' })).toMatchObject({ ok: true });
      expect(io2.socket.connected).toBe(true);
    } finally {
      io1.socket.close();
      io2.socket.close();
      ws1.ws.close();
      await Promise.all([g1.close(), g2.close()]);
      await api.close();
    }
  });
});

describe('handshakes per client address', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api.close());

  it('refuses the handshake beyond HANDSHAKE_ADDRESS_LIMIT from one address, before the token is checked', async () => {
    const gw = await startGateway(api.config.redis.prefix, { HANDSHAKE_ADDRESS_LIMIT: '3', HANDSHAKE_ADDRESS_WINDOW: '1m' });
    const user = await createUser(api);
    // 127.0.0.1 is a trusted proxy by default, so X-Forwarded-For names the client.
    const from = { 'x-forwarded-for': '198.51.100.7' };
    try {
      const a = await connectWs(gw, user.token, { headers: from });
      const b = await connectIo(gw, user.token, { headers: from });
      // A bad token counts too: the address limit comes first.
      expect((await refusedUpgrade(gw, 'not-a-token', from)).status).toBe(401);
      const refused = await refusedUpgrade(gw, user.token, from);
      expect(refused).toMatchObject({ status: 429, body: { code: 'rate_limited', error: 'too many connection attempts; try again later' } });
      await expect(connectIo(gw, user.token, { headers: from })).rejects.toMatchObject({ data: { code: 'rate_limited' } });
      // Another address is not affected.
      (await connectWs(gw, user.token, { headers: { 'x-forwarded-for': '198.51.100.8' } })).ws.close();
      a.ws.close();
      b.socket.close();
    } finally {
      await gw.close();
    }
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const gw = await startGateway(api.config.redis.prefix, { HANDSHAKE_ADDRESS_LIMIT: '2', TRUSTED_PROXIES: '192.0.2.1' });
    const user = await createUser(api);
    try {
      (await connectWs(gw, user.token, { headers: { 'x-forwarded-for': '198.51.100.20' } })).ws.close();
      (await connectWs(gw, user.token, { headers: { 'x-forwarded-for': '198.51.100.21' } })).ws.close();
      // Every spoofed address is really 127.0.0.1, which has used up its two.
      expect((await refusedUpgrade(gw, user.token, { 'x-forwarded-for': '198.51.100.22' })).status).toBe(429);
    } finally {
      await gw.close();
    }
  });
});
