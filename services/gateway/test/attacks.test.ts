import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Inbox } from '@chat/shared/testing';
import { createRoom, createUser, sendMessage, type TestApi, type TestUser } from '../../api/test/harness.ts';
import {
  forgeToken,
  HOSTILE_CONTENT,
  LEAK,
  nestedArrays,
  nestedObjects,
  rs256Token,
  tamperedToken,
  unsignedToken,
} from '../../api/test/attacks/helpers.ts';
import {
  connectIo,
  connectWs,
  emitCommand,
  emitMessage,
  refusedWs,
  startGateway,
  startTwoGateways,
  type Frame,
  type TestGateway,
  type WsClient,
} from './harness.ts';

// Attack suite, sockets: the plain WebSocket endpoint and Socket.IO
// (docs/security.md). Every refusal must be an HTTP 4xx on the upgrade, a
// connect_error, an error frame or acknowledgement with a code, or a protocol
// close: never a crash, a hang, a stack trace, or a message stored.

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
let api: TestApi;
let gw: TestGateway;
/** The same cluster, with frames up to 1 MiB: deep nesting gets past the size limits to the parsers. */
let roomy: TestGateway;
let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;
let room: { id: string };
let secret: string;
/** Every error frame and failed acknowledgement seen, checked for leaks at the end. */
const errorsSeen: unknown[] = [];

beforeAll(async () => {
  cluster = await startTwoGateways();
  ({ api, g1: gw } = cluster);
  roomy = await startGateway(api.config.redis.prefix, { WEBSOCKET_MAX_MESSAGE_SIZE: String(1024 * 1024) });
  await api.resources.redis.ping(); // the rate limiters refuse requests until Redis is ready
  [alice, bob, mallory] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
  room = await createRoom(api, alice, 'sockets');
  secret = api.config.jwt.secret;
});
afterAll(async () => {
  await roomy?.close();
  await cluster?.close();
});

/** Sends a frame and resolves with the next error frame (recorded for the leak check). */
async function errorFrameFor(client: WsClient, frame: unknown): Promise<Frame> {
  const before = client.inbox.count((f) => f.type === 'error');
  client.send(frame);
  const error = await client.inbox.next((f) => f.type === 'error' && client.inbox.count((g) => g.type === 'error') > before, 'an error frame');
  errorsSeen.push(error);
  return error;
}

/** Resolves once the connection answers a ping: it survived whatever came before. */
async function stillUsable(client: WsClient) {
  const pongs = client.inbox.count((f) => f.type === 'pong');
  client.send({ type: 'ping' });
  await client.inbox.next((f) => f.type === 'pong' && client.inbox.count((g) => g.type === 'pong') > pongs, 'a pong');
}

/** Nobody received `content`: the frame was refused before anything was stored. */
async function neverStored(content: string) {
  const feed = await (await api.fetch('/api/messages?limit=100', { token: alice.token })).text();
  expect(feed).not.toContain(content);
}

/**
 * A Socket.IO client speaking the wire protocol by hand over the websocket
 * transport, for payloads the official client cannot or will not send.
 */
async function rawSocketIo(target: TestGateway, token: string) {
  const ws = new WebSocket(`${target.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const packets = new Inbox<string>();
  ws.on('message', (data) => {
    const text = (data as Buffer).toString('utf8');
    if (text === '2') return void ws.send('3'); // Engine.IO ping
    packets.push(text);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const next = (match: (p: string) => boolean, what: string) => packets.next(match, what);
  await next((p) => p.startsWith('0'), 'Engine.IO open');
  ws.send(`40${JSON.stringify({ token })}`);
  await next((p) => p.startsWith('40'), 'Socket.IO connect');
  return { ws, closed, next };
}

describe('forged and invalid tokens on both socket kinds', () => {
  const past = () => Math.floor(Date.now() / 1000) - 3600;
  it.each<[string, () => Promise<string> | string]>([
    ['a forged signature', () => forgeToken(secret, alice, { secret: 'attacker-secret-that-is-also-long-enough' })],
    ['a tampered payload (another user, old signature)', () => tamperedToken(alice.token, { sub: bob.id, username: bob.username })],
    ['alg: none', () => unsignedToken(alice.token)],
    ['HS512 with the real secret', () => forgeToken(secret, alice, { alg: 'HS512' })],
    ['RS256 with an attacker key pair', () => rs256Token(alice)],
    ['an expired token', () => forgeToken(secret, alice, { claims: { iat: past() - 60, exp: past() } })],
    ['a wrong audience', () => forgeToken(secret, alice, { claims: { aud: 'another-service' } })],
    ['a wrong issuer', () => forgeToken(secret, alice, { claims: { iss: 'someone-else' } })],
    ['a token without jti', () => forgeToken(secret, alice, { claims: { jti: undefined } })],
    ['a token without sub', () => forgeToken(secret, alice, { claims: { sub: undefined } })],
  ])('refuses %s: plain WS 401 on the upgrade, Socket.IO connect_error', async (_name, make) => {
    const token = await make();
    const ws = await refusedWs(gw, token);
    expect(ws).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
    expect(JSON.stringify(ws.body)).not.toMatch(LEAK);
    const io = await connectIo(gw, token).then(
      (client) => {
        client.socket.close();
        throw new Error('Socket.IO accepted the token');
      },
      (error: unknown) => error as { message: string; data?: unknown },
    );
    expect(io).toMatchObject({ data: { code: 'unauthenticated' } });
    expect(`${io.message} ${JSON.stringify(io.data)}`).not.toMatch(LEAK);
  });

  it('refuses a token that was logged out on both kinds', async () => {
    const carol = await createUser(api);
    await api.fetch('/api/auth/logout', { method: 'POST', token: carol.token });
    expect(await refusedWs(gw, carol.token)).toMatchObject({ status: 401, body: { error: 'token revoked' } });
    await expect(connectIo(gw, carol.token)).rejects.toMatchObject({ data: { code: 'unauthenticated' } });
  });
});

describe('Origin', () => {
  it('refuses a foreign Origin on the plain WebSocket upgrade with 403', async () => {
    expect(await refusedWs(gw, alice.token, { origin: 'https://evil.example' })).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await refusedWs(gw, alice.token, { origin: 'null' })).toMatchObject({ status: 403 });
  });

  it('refuses a foreign Origin on the Socket.IO handshake, over polling and websocket', async () => {
    for (const transports of [['polling'], ['websocket']] as const) {
      await expect(
        connectIo(gw, alice.token, { transports: [...transports], headers: { origin: 'https://evil.example' } }),
        transports[0],
      ).rejects.toThrow();
    }
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
  });
});

describe('speaking as someone else, or where one may not', () => {
  it('refuses a plain WS frame whose sender names someone else', async () => {
    const client = await connectWs(gw, mallory.token);
    const content = `ws spoof ${Date.now()}`;
    expect(await errorFrameFor(client, { type: 'message', content, sender: bob.username })).toMatchObject({ code: 'forbidden' });
    await neverStored(content);
    client.ws.close();
  });

  it('refuses a Socket.IO message whose sender names someone else', async () => {
    const client = await connectIo(gw, mallory.token);
    const content = `io spoof ${Date.now()}`;
    const ack = await emitMessage(client, { content, sender: bob.id });
    errorsSeen.push(ack);
    expect(ack).toMatchObject({ ok: false, code: 'forbidden' });
    await neverStored(content);
    client.socket.close();
  });

  it('refuses a plain WS message into a room the sender is not in', async () => {
    const client = await connectWs(gw, mallory.token);
    expect(await errorFrameFor(client, { type: 'message', content: 'let me in', room_id: room.id })).toMatchObject({ code: 'forbidden' });
    client.ws.close();
  });

  it('refuses a Socket.IO message into a room the sender is not in', async () => {
    const client = await connectIo(gw, mallory.token);
    const ack = await emitMessage(client, { content: 'let me in', room_id: room.id });
    errorsSeen.push(ack);
    expect(ack).toMatchObject({ ok: false, code: 'forbidden' });
    client.socket.close();
  });

  it("never delivers other people's direct or room messages to a third connection", async () => {
    const spy = await connectWs(gw, mallory.token);
    const spyIo = await connectIo(cluster.g2, mallory.token);
    const sender = await connectWs(gw, alice.token);
    sender.send({ type: 'message', content: 'dm for bob', recipient: bob.username, client_msg_id: `dm-${Date.now()}` });
    sender.send({ type: 'message', content: 'room only', room_id: room.id, client_msg_id: `room-${Date.now()}` });
    sender.send({ type: 'message', content: 'public marker', client_msg_id: `pub-${Date.now()}` });
    // Everything is delivered in log order: once the public marker arrived, the others would have.
    await spy.inbox.next((f) => f.message?.content === 'public marker', 'the public marker');
    await spyIo.inbox.next((e) => e.payload.content === 'public marker', 'the public marker over Socket.IO');
    expect(spy.inbox.items.map((f) => f.message?.content)).not.toContain('dm for bob');
    expect(spy.inbox.items.map((f) => f.message?.content)).not.toContain('room only');
    expect(spyIo.inbox.items.map((e) => e.payload.content)).not.toContain('dm for bob');
    expect(spyIo.inbox.items.map((e) => e.payload.content)).not.toContain('room only');
    for (const c of [spy, sender]) c.ws.close();
    spyIo.socket.close();
  });

  it('refuses a forged resume cursor (plain WS close 4003, Socket.IO connect_error)', async () => {
    const forged = 'm1.zz.AAAAAAAAAAAAAAAA';
    const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
    url.searchParams.set('token', mallory.token);
    url.searchParams.set('since', forged);
    const ws = new WebSocket(url);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push((data as Buffer).toString('utf8')));
    expect(await new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))).toBe(4003);
    expect(frames.join('')).toContain('invalid_cursor');
    await expect(connectIo(gw, mallory.token, { since: forged })).rejects.toMatchObject({ data: { code: 'invalid_cursor' } });
  });
});

describe('hostile frames on the plain WebSocket', () => {
  let client: WsClient;
  beforeAll(async () => {
    client = await connectWs(gw, mallory.token);
  });
  afterAll(() => client.ws.close());

  it('refuses a frame over WEBSOCKET_MAX_MESSAGE_SIZE with an error frame and stays usable', async () => {
    const frame = { type: 'message', content: 'x'.repeat(gw.config.websocket.maxMessageBytes + 1) };
    expect(await errorFrameFor(client, frame)).toMatchObject({ code: 'payload_too_large' });
    await stillUsable(client);
  });

  it('closes a connection that sends a frame over the hard limit with 1009', async () => {
    const victim = await connectWs(gw, mallory.token);
    victim.send('x'.repeat(gw.config.websocket.hardLimitBytes + 1));
    expect((await victim.closed).code).toBe(1009);
  });

  it('closes with 1009 on 100k nested arrays under the default limits', async () => {
    const victim = await connectWs(gw, mallory.token);
    victim.send(`{"type":"message","content":${nestedArrays(100_000)}}`);
    expect((await victim.closed).code).toBe(1009);
  });

  it.each([
    ['100k nested arrays', nestedArrays(100_000)],
    ['100k nested objects', nestedObjects(100_000)],
    ['100k nested arrays as the content', `{"type":"message","content":${nestedArrays(100_000)}}`],
  ])('answers %s within the size limit with an error frame, not a crash', async (_name, text) => {
    const deep = await connectWs(roomy, mallory.token);
    expect(await errorFrameFor(deep, text)).toMatchObject({ code: expect.stringMatching(/validation_failed|payload_too_large/) as unknown });
    await stillUsable(deep);
    deep.ws.close();
  });

  it('answers a binary frame with an error frame and stays usable', async () => {
    const before = client.inbox.count((f) => f.type === 'error');
    client.ws.send(Buffer.from(JSON.stringify({ type: 'message', content: 'binary' })), { binary: true });
    client.ws.send(Buffer.from([0x00, 0xff, 0x10]), { binary: true });
    await client.inbox.next((f) => f.type === 'error' && client.inbox.count((g) => g.type === 'error') >= before + 2, 'two error frames');
    const errors = client.inbox.items.filter((f) => f.type === 'error');
    const refusal = { type: 'error', error: 'binary frames are not supported', code: 'validation_failed' };
    expect(errors.slice(before)).toEqual([refusal, refusal]);
    errorsSeen.push(...errors);
    await stillUsable(client);
    await neverStored('binary');
  });

  it('closes a connection that sends a text frame that is not UTF-8 with 1007', async () => {
    const victim = await connectWs(gw, mallory.token);
    victim.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await victim.closed).code).toBe(1007);
    await stillUsable(client);
  });

  it('ignores __proto__ and constructor payloads in a frame and pollutes nothing', async () => {
    const content = `proto ws ${Date.now()}`;
    client.send(
      `{"type":"message","content":"${content}","client_msg_id":"p-${Date.now()}","__proto__":{"polluted":true,"type":"ping"},"constructor":{"prototype":{"isAdmin":true}}}`,
    );
    const frame = await client.inbox.next((f) => f.type === 'error' || f.message?.content === content, 'an ack or an error');
    expect(JSON.stringify(frame)).not.toMatch(/polluted|isAdmin/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    await stillUsable(client);
  });

  it.each(HOSTILE_CONTENT)('delivers SQL/HTML content %j verbatim to plain WS and Socket.IO readers', async (content) => {
    const reader = await connectIo(cluster.g2, bob.token);
    client.send({ type: 'message', content, recipient: bob.username });
    const got = await reader.inbox.next((e) => e.event === 'direct_message' && e.payload.content === content, 'the message');
    expect(got.payload.content).toBe(content);
    reader.socket.close();
  });
});

describe('hostile Socket.IO payloads', () => {
  it('refuses a non-object payload with a failed acknowledgement', async () => {
    const client = await connectIo(gw, mallory.token);
    for (const body of ['just a string', 42, null, [1, 2]]) {
      const ack = await emitMessage(client, body);
      errorsSeen.push(ack);
      expect(ack, JSON.stringify(body)).toMatchObject({ ok: false, code: 'validation_failed' });
    }
    client.socket.close();
  });

  it('refuses binary attachments as content', async () => {
    const client = await connectIo(gw, mallory.token);
    const ack = await emitMessage(client, { content: Buffer.from('binary content') });
    errorsSeen.push(ack);
    expect(ack).toMatchObject({ ok: false, code: 'validation_failed' });
    client.socket.close();
  });

  it('refuses content over MESSAGE_MAX_LENGTH with a failed acknowledgement', async () => {
    const client = await connectIo(gw, mallory.token);
    const ack = await emitMessage(client, { content: 'y'.repeat(gw.config.chat.maxMessageLength + 1) });
    errorsSeen.push(ack);
    expect(ack).toMatchObject({ ok: false });
    client.socket.close();
  });

  it('drops a Socket.IO client that sends a payload over the buffer limit, and keeps serving', async () => {
    const raw = await rawSocketIo(gw, mallory.token);
    raw.ws.send(`420["message",{"content":"${'z'.repeat(gw.config.websocket.hardLimitBytes + 1)}"}]`);
    expect(await raw.closed).toBeGreaterThanOrEqual(1000);
    const ok = await connectIo(gw, mallory.token);
    ok.socket.close();
  });

  it.each([
    ['100k nested arrays', nestedArrays(100_000)],
    ['100k nested objects', nestedObjects(100_000)],
  ])('answers %s as the message with a failed acknowledgement or a disconnect, never a crash', async (_name, nested) => {
    const raw = await rawSocketIo(roomy, mallory.token);
    raw.ws.send(`420["message",${nested}]`);
    const outcome = await Promise.race([raw.next((p) => p.startsWith('430'), 'the acknowledgement'), raw.closed.then((code) => `closed ${code}`)]);
    if (outcome.startsWith('430')) {
      expect(outcome).toMatch(/"ok":false/);
      expect(outcome).not.toMatch(LEAK);
      raw.ws.close();
    }
    const ok = await connectIo(roomy, mallory.token);
    ok.socket.close();
  });

  it('drops a Socket.IO client that sends binary or non-UTF-8 frames, and keeps serving', async () => {
    const binary = await rawSocketIo(gw, mallory.token);
    binary.ws.send(Buffer.from([0x34, 0x32, 0xff, 0x00]), { binary: true });
    binary.ws.send(Buffer.from([0x34, 0x32, 0xff, 0x00]), { binary: true });
    const text = await rawSocketIo(gw, mallory.token);
    text.ws.send(Buffer.from([0x34, 0x32, 0x5b, 0xff, 0xfe, 0x5d]), { binary: false });
    expect(await text.closed).toBe(1007);
    const ok = await connectIo(gw, mallory.token);
    const ack = await emitMessage(ok, { content: 'after the garbage' });
    expect(ack.ok).toBe(true);
    ok.socket.close();
    // socket.io-parser refuses binary data outside an attachment packet: the session is closed.
    expect(await Promise.race([binary.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 3_000))])).not.toBe('still open');
  });

  it('ignores __proto__ in a Socket.IO payload and pollutes nothing', async () => {
    const raw = await rawSocketIo(gw, mallory.token);
    raw.ws.send(
      `421["message",{"content":"proto io","__proto__":{"polluted":true,"sender":"${bob.username}"},"constructor":{"prototype":{"isAdmin":true}}}]`,
    );
    const ack = await raw.next((p) => p.startsWith('431'), 'the acknowledgement');
    expect(ack).not.toMatch(/polluted|isAdmin/);
    if (ack.includes('"ok":true')) expect(ack).toContain(`"sender":"${mallory.username}"`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    raw.ws.close();
  });
});

describe("changing other people's messages over the sockets", () => {
  /** A Socket.IO command's failed acknowledgement (recorded for the leak check). */
  async function refusedAck(client: Awaited<ReturnType<typeof connectIo>>, name: string, body: unknown) {
    const ack = await emitCommand<{ ok: boolean; code?: string }>(client, name, body);
    errorsSeen.push(ack);
    expect(ack.ok, `${name} ${JSON.stringify(body)}`).toBe(false);
    return ack.code;
  }
  /** The message as its readers see it now. */
  const now = async (id: string) =>
    (
      (await (await api.fetch('/api/messages?limit=100', { token: alice.token })).json()) as {
        messages: Array<{ id: string; content: string; deleted_at: string | null; reactions: unknown[] }>;
      }
    ).messages.find((m) => m.id === id);

  it("refuses editing, deleting or reacting to another user's messages on both kinds, and hides the invisible ones", async () => {
    const global = await sendMessage(api, alice, { content: "global, not mallory's" });
    const dm = await sendMessage(api, alice, { content: 'between alice and bob', recipient: bob.username });
    const inRoom = await sendMessage(api, alice, { content: 'in a room mallory is not in', room_id: room.id });
    const ws = await connectWs(gw, mallory.token);
    const io = await connectIo(cluster.g2, mallory.token);
    // Visible but not hers: forbidden. Invisible: not found, the same as no message at all.
    expect((await errorFrameFor(ws, { type: 'edit', id: global.id, content: 'defaced', client_msg_id: 'a1' })).code).toBe('forbidden');
    expect(await refusedAck(io, 'delete', { id: global.id })).toBe('forbidden');
    for (const id of [dm.id, inRoom.id, '00000000-0000-4000-8000-000000000000']) {
      expect((await errorFrameFor(ws, { type: 'delete', id, client_msg_id: 'a2' })).code).toBe('not_found');
      expect(await refusedAck(io, 'edit', { id, content: 'defaced' })).toBe('not_found');
      expect(await refusedAck(io, 'react', { id, emoji: '💩', add: true })).toBe('not_found');
    }
    expect((await errorFrameFor(ws, { type: 'react', id: dm.id, emoji: '💩', add: true, client_msg_id: 'a3' })).code).toBe('not_found');
    for (const m of [global, dm, inRoom]) expect(await now(m.id)).toMatchObject({ content: m.content, deleted_at: null, reactions: [] });
    await stillUsable(ws);
    ws.ws.close();
    io.socket.close();
  });

  it('refuses replies into conversations one cannot see, on both kinds, and stores nothing', async () => {
    const dm = await sendMessage(api, alice, { content: 'a private root', recipient: bob.username });
    const ws = await connectWs(gw, mallory.token);
    const io = await connectIo(cluster.g2, mallory.token);
    const content = `sneaky reply ${Math.random()}`;
    expect((await errorFrameFor(ws, { type: 'message', content, reply_to: dm.id, client_msg_id: 'r1' })).code).toBe('validation_failed');
    expect(await refusedAck(io, 'message', { content, recipient: alice.username, reply_to: dm.id })).toBe('validation_failed');
    await neverStored(content);
    ws.ws.close();
    io.socket.close();
  });

  it('refuses malformed and oversized emoji, malformed ids and edits of a tombstone', async () => {
    const mine = await sendMessage(api, mallory, { content: "mallory's own" });
    const io = await connectIo(gw, mallory.token);
    for (const emoji of [`:${'x'.repeat(40)}:`, '👍👍', 'x', 42, { emoji: '👍' }, '', '<img src=x>']) {
      expect(await refusedAck(io, 'react', { id: mine.id, emoji, add: true }), JSON.stringify(emoji)).toBe('validation_failed');
    }
    for (const id of [42, 'not-an-id', null, ['a'], { $ne: null }]) {
      expect(await refusedAck(io, 'edit', { id, content: 'x' }), JSON.stringify(id)).toBe('validation_failed');
    }
    const ws = await connectWs(gw, mallory.token);
    ws.send({ type: 'delete', id: mine.id, client_msg_id: 't1' });
    await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 't1', 'the deletion');
    expect((await errorFrameFor(ws, { type: 'edit', id: mine.id, content: 'back from the dead', client_msg_id: 't2' })).code).toBe('conflict');
    expect(await refusedAck(io, 'react', { id: mine.id, emoji: '👍', add: true })).toBe('conflict');
    expect(await now(mine.id)).toMatchObject({ content: '', reactions: [] });
    ws.ws.close();
    io.socket.close();
  });

  it('cuts a reaction flood short at REACTION_RATE_LIMIT, on every transport together', async () => {
    const strict = await startGateway(api.config.redis.prefix, { REACTION_RATE_LIMIT: '5', REACTION_RATE_WINDOW: '1m' });
    try {
      const flooder = await createUser(api);
      const target = await sendMessage(api, alice, { content: 'flood target' });
      const io = await connectIo(strict, flooder.token);
      const acks = [];
      for (let i = 0; i < 12; i++)
        acks.push(await emitCommand<{ ok: boolean; code?: string }>(io, 'react', { id: target.id, emoji: '👍', add: i % 2 === 0 }));
      expect(acks.filter((a) => a.ok)).toHaveLength(5);
      expect(acks.slice(5).every((a) => !a.ok && a.code === 'rate_limited')).toBe(true);
      errorsSeen.push(...acks.filter((a) => !a.ok));
      io.socket.close();
    } finally {
      await strict.close();
    }
  });
});

describe('error frames and acknowledgements', () => {
  it('never carry a stack trace, a source path or a database message', () => {
    expect(errorsSeen.length).toBeGreaterThan(10);
    for (const error of errorsSeen) expect(JSON.stringify(error)).not.toMatch(LEAK);
  });
});
