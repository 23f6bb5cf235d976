import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, startGateway, type TestGateway, type WsClient } from './harness.ts';

let api: TestApi;
let gw: TestGateway;
let user: TestUser;
let client: WsClient;

beforeAll(async () => {
  api = await startApi();
  gw = await startGateway(api.config.redis.prefix, { WEBSOCKET_MAX_MESSAGE_SIZE: '1024' });
  user = await createUser(api);
  client = await connectWs(gw, user.token);
});
afterAll(async () => {
  client.ws.close();
  await gw.close();
  await api.close();
});

/** Sends a frame and resolves with the next error frame; then proves the connection still works. */
async function errorFor(frame: unknown): Promise<Record<string, unknown>> {
  const before = client.inbox.count((f) => f.type === 'error');
  client.send(frame);
  const error = await client.inbox.next((f) => f.type === 'error' && client.inbox.count((g) => g.type === 'error') > before, 'an error frame');
  client.inbox.items.length = 0;
  client.send({ type: 'ping' });
  await client.inbox.next((f) => f.type === 'pong');
  return error;
}

/** An error frame: the message text and the stable code clients switch on. */
const errorFrame = (message: RegExp, code: string) => ({ type: 'error', error: expect.stringMatching(message) as unknown, code });

describe('plain WebSocket frames', () => {
  it('answers ping with pong', async () => {
    client.send({ type: 'ping' });
    expect(await client.inbox.next((f) => f.type === 'pong')).toEqual({ type: 'pong', status: 'ok' });
  });

  it.each([
    ['not JSON', 'hello there', /not valid JSON/, 'validation_failed'],
    ['a JSON array', [1, 2], /JSON object/, 'validation_failed'],
    ['an unknown type', { type: 'shout', content: 'x' }, /unknown frame type/, 'validation_failed'],
    ['missing content', { type: 'message' }, /invalid message/, 'validation_failed'],
    ['empty content', { type: 'message', content: '   ' }, /invalid message/, 'validation_failed'],
    ['a non-string content', { type: 'message', content: { nested: true } }, /invalid message/, 'validation_failed'],
    ['an unknown recipient', { type: 'message', content: 'hi', recipient: 'nobody_here_at_all' }, /recipient not found/, 'not_found'],
    ['a sender naming someone else', { type: 'message', content: 'hi', sender: 'someone_else' }, /only send messages as yourself/, 'forbidden'],
    ['a room id that is not an id', { type: 'message', content: 'hi', room_id: 'general' }, /invalid message/, 'validation_failed'],
  ])('refuses %s with an error frame and stays usable', async (_name, frame, expected, code) => {
    expect(await errorFor(frame)).toMatchObject(errorFrame(expected, code));
  });

  it('refuses a frame over WEBSOCKET_MAX_MESSAGE_SIZE with an error frame', async () => {
    expect(await errorFor({ type: 'message', content: 'x'.repeat(2000) })).toMatchObject(errorFrame(/exceeds 1024 bytes/, 'payload_too_large'));
  });

  it('refuses a room the user is not in', async () => {
    const owner = await createUser(api);
    const room = await createRoom(api, owner, 'private');
    expect(await errorFor({ type: 'message', content: 'let me in', room_id: room.id })).toMatchObject(errorFrame(/not a member/, 'forbidden'));
  });

  it('closes the connection with 1009 for a frame over the transport limit', async () => {
    const victim = await connectWs(gw, user.token);
    victim.send('x'.repeat(gw.config.websocket.hardLimitBytes + 1));
    expect((await victim.closed).code).toBe(1009);
  });

  it('keeps serving other clients after a burst of garbage', async () => {
    const noisy = await connectWs(gw, user.token);
    for (let i = 0; i < 500; i++) noisy.send(i % 2 ? '{"type":' : Buffer.from([0xff, 0x00, i % 256]));
    const other = await createUser(api);
    const bystander = await connectWs(gw, other.token);
    bystander.send({ type: 'message', content: 'still here?' });
    const echo = await bystander.inbox.next((f) => f.type === 'message' && f.message?.content === 'still here?');
    expect(echo.message).toMatchObject({ sender: other.username, content: 'still here?', recipient: null, room_id: null });
    noisy.ws.close();
    bystander.ws.close();
  });
});

describe('Socket.IO message acknowledgements', () => {
  it('acknowledge with the stored message, or with the error', async () => {
    const io = await connectIo(gw, user.token);
    const ok = await emitMessage(io, { content: 'ack me' });
    expect(ok).toMatchObject({ ok: true, message: { content: 'ack me', sender: user.username } });
    expect(await emitMessage(io, { content: '' })).toMatchObject({ ok: false, code: 'validation_failed' });
    expect(await emitMessage(io, 'just a string')).toMatchObject({ ok: false, code: 'validation_failed' });
    io.socket.close();
  });

  it('report an error event when the client asked for no acknowledgement', async () => {
    const io = await connectIo(gw, user.token);
    io.socket.emit('message', { content: 42 });
    const error = await io.inbox.next((e) => e.event === 'error');
    expect(error.payload).toMatchObject({ code: 'validation_failed' });
    io.socket.close();
  });
});
