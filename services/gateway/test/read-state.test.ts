import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, sendMessage, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitCommand, startGateway, startTwoGateways, type IoClient, type WsClient } from './harness.ts';

// Read positions and typing over the sockets: one user's tabs stay in step,
// the other side gets receipts, typing reaches the others once per 2 s; none
// of it is stored in the log or replayed.

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

const markRead = (as: TestUser, conversation: string, messageId: string) =>
  cluster.api.fetch(`/api/conversations/${conversation}/read`, { method: 'PUT', token: as.token, json: { message_id: messageId } });

const wsOf = (c: WsClient, type: string) => c.inbox.items.filter((f) => f.type === type);
const ioOf = (c: IoClient, event: string) => c.inbox.items.filter((e) => e.event === event).map((e) => e.payload);

describe('read state over the sockets', () => {
  it("keeps a user's connections in step (read), and tells the other side of a direct conversation (read_receipt), across gateways", async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const aliceWs = await connectWs(g1, alice.token);
    const aliceIo = await connectIo(g2, alice.token);
    const bobWs = await connectWs(g2, bob.token);
    const m = await sendMessage(api, bob, { content: 'did you read this?', recipient: alice.username });

    // Marked over the plain socket of one tab: the other tab (the other gateway, Socket.IO) hears it.
    aliceWs.send({ type: 'read', conversation: `user:${bob.id}`, message_id: m.id, client_msg_id: 'read-1' });
    const ack = await aliceWs.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'read-1', 'the read ack');
    expect(ack).toMatchObject({ conversation: `user:${bob.id}`, message_id: m.id, updated_at: expect.any(String) as string });
    const inStep = await aliceIo.inbox.next((e) => e.event === 'read', 'read on the other tab');
    expect(inStep.payload).toEqual({ conversation: `user:${bob.id}`, message_id: m.id });

    // Bob names the conversation by Alice.
    const receipt = await bobWs.inbox.next((f) => f.type === 'read_receipt', 'the receipt');
    expect(receipt).toEqual({ type: 'read_receipt', conversation: `user:${alice.id}`, user: alice.id, username: alice.username, message_id: m.id });

    // Marking the same message again moves nothing and announces nothing.
    const again = await emitCommand<{ ok: boolean; message_id?: string }>(aliceIo, 'read', { conversation: `user:${bob.id}`, message_id: m.id });
    expect(again).toMatchObject({ ok: true, message_id: m.id });
    const marker = await sendMessage(api, alice, { content: 'marker', recipient: bob.username });
    await bobWs.inbox.next((f) => f.message?.id === marker.id, 'the marker');
    expect(wsOf(bobWs, 'read_receipt')).toHaveLength(1);
    expect(ioOf(aliceIo, 'read')).toHaveLength(1);
    for (const c of [aliceWs, bobWs]) c.ws.close();
    aliceIo.socket.close();
  });

  it('sends room receipts to the other members of a small room, the latest per reader, not back to the reader', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'small');
    for (const u of [bob, carol]) await api.fetch(`/api/rooms/${room.id}/members/${u.id}`, { method: 'POST', token: alice.token });
    const bobWs = await connectWs(g1, bob.token);
    const carolIo = await connectIo(g2, carol.token);
    const first = await sendMessage(api, alice, { content: 'one', room_id: room.id });
    const second = await sendMessage(api, alice, { content: 'two', room_id: room.id });

    // Two marks within the second: Carol gets at most the latest of Bob's.
    expect((await markRead(bob, `room:${room.id}`, first.id)).status).toBe(200);
    expect((await markRead(bob, `room:${room.id}`, second.id)).status).toBe(200);
    const receipt = await carolIo.inbox.next((e) => e.event === 'read_receipt' && e.payload.message_id === second.id, 'the latest receipt');
    expect(receipt.payload).toEqual({ conversation: `room:${room.id}`, user: bob.id, username: bob.username, message_id: second.id });
    expect(ioOf(carolIo, 'read_receipt').length).toBeLessThanOrEqual(2);
    // Bob's own connection hears `read`, not his receipt.
    await bobWs.inbox.next((f) => f.type === 'read' && f.message_id === second.id, "Bob's read");
    expect(wsOf(bobWs, 'read_receipt')).toEqual([]);
    bobWs.ws.close();
    carolIo.socket.close();
  });

  it('sends no room receipts past READ_RECEIPTS_MAX_MEMBERS (the reader still hears `read`)', async () => {
    const { api, g1 } = cluster;
    const small = await startGateway(api.config.redis.prefix, { READ_RECEIPTS_MAX_MEMBERS: '2' });
    try {
      const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
      const pair = await createRoom(api, alice, 'two');
      const three = await createRoom(api, alice, 'three');
      await api.fetch(`/api/rooms/${pair.id}/members/${bob.id}`, { method: 'POST', token: alice.token });
      for (const u of [bob, carol]) await api.fetch(`/api/rooms/${three.id}/members/${u.id}`, { method: 'POST', token: alice.token });
      const aliceWs = await connectWs(g1, alice.token);
      const bobIo = await connectIo(small, bob.token);
      const inThree = await sendMessage(api, alice, { content: 'to three', room_id: three.id });
      const inPair = await sendMessage(api, alice, { content: 'to two', room_id: pair.id });

      // Marked over the gateway whose limit is 2: the room of three sends no receipt, the room of two does.
      expect(await emitCommand(bobIo, 'read', { conversation: `room:${three.id}`, message_id: inThree.id })).toMatchObject({ ok: true });
      expect(await emitCommand(bobIo, 'read', { conversation: `room:${pair.id}`, message_id: inPair.id })).toMatchObject({ ok: true });
      await aliceWs.inbox.next((f) => f.type === 'read_receipt' && f.conversation === `room:${pair.id}`, 'the receipt in the room of two');
      expect(wsOf(aliceWs, 'read_receipt').map((f) => f.conversation)).toEqual([`room:${pair.id}`]);
      await bobIo.inbox.next((e) => e.event === 'read' && e.payload.conversation === `room:${three.id}`, "Bob's own read");
      aliceWs.ws.close();
      bobIo.socket.close();
    } finally {
      await small.close();
    }
  });

  it('is not replayed on resume: a resuming client reads positions with GET /api/conversations', async () => {
    const { api, g1 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const first = await connectWs(g1, alice.token);
    const since = String(first.inbox.items[0]?.cursor);
    first.ws.close();
    await first.closed;
    const m = await sendMessage(api, bob, { content: 'while away', recipient: alice.username });
    expect((await markRead(bob, `user:${alice.id}`, m.id)).status).toBe(200);
    expect((await markRead(alice, `user:${bob.id}`, m.id)).status).toBe(200);

    const back = await connectWs(g1, alice.token, { since });
    await back.inbox.next((f) => f.type === 'resumed', 'resumed');
    // The missed message is replayed; neither Bob's receipt nor Alice's own read is.
    expect(back.inbox.items.map((f) => f.type)).toEqual(['connection', 'direct_message', 'resumed']);
    const list = (await (await api.fetch('/api/conversations', { token: alice.token })).json()) as {
      conversations: Array<{ id: string; read_up_to: string | null }>;
    };
    expect(list.conversations.find((c) => c.id === `user:${bob.id}`)?.read_up_to).toBe(m.id);
    back.ws.close();
  });
});

describe('presence per conversation', () => {
  it("shows a direct partner's online state in the conversation list, and a room's members online", async () => {
    const { api, g2 } = cluster;
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'who is here');
    for (const u of [bob, carol]) await api.fetch(`/api/rooms/${room.id}/members/${u.id}`, { method: 'POST', token: alice.token });
    await sendMessage(api, alice, { content: 'hi bob', recipient: bob.username });
    await sendMessage(api, alice, { content: 'hi carol', recipient: carol.username });
    const bobWs = await connectWs(g2, bob.token);

    const online = async () => {
      const page = (await (await api.fetch('/api/conversations', { token: alice.token })).json()) as {
        conversations: Array<{ id: string; online: boolean | null }>;
      };
      return Object.fromEntries(page.conversations.filter((c) => c.id.startsWith('user:')).map((c) => [c.id, c.online]));
    };
    await expect.poll(online).toEqual({ [`user:${bob.id}`]: true, [`user:${carol.id}`]: false });
    const presence = (await (await api.fetch(`/api/rooms/${room.id}/presence`, { token: carol.token })).json()) as { online: Array<{ id: string }> };
    expect(presence.online.map((u) => u.id)).toEqual([bob.id]);

    bobWs.ws.close();
    await expect.poll(online).toEqual({ [`user:${bob.id}`]: false, [`user:${carol.id}`]: false });
  });
});

describe('typing over the sockets', () => {
  it("reaches the other members' connections (not the typist's), at most once per 2 s per conversation", async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'typing');
    await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token });
    const aliceWs = await connectWs(g1, alice.token);
    const aliceOther = await connectIo(g2, alice.token);
    const bobIo = await connectIo(g2, bob.token);
    const bobWs = await connectWs(g1, bob.token);
    const carolWs = await connectWs(g1, carol.token);

    aliceWs.send({ type: 'typing', conversation: `room:${room.id}`, client_msg_id: 't-1' });
    expect(await aliceWs.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 't-1', 'the typing ack')).toMatchObject({ forwarded: true });
    const seen = await bobIo.inbox.next((e) => e.event === 'typing', 'typing on Socket.IO');
    expect(seen.payload).toEqual({
      conversation: `room:${room.id}`,
      user: alice.id,
      username: alice.username,
      expires_at: expect.any(String) as string,
    });
    expect(Date.parse(String(seen.payload.expires_at))).toBeGreaterThan(Date.now());
    await bobWs.inbox.next((f) => f.type === 'typing', 'typing on the plain socket');

    // Again at once, from another connection of hers: dropped quietly.
    expect(await emitCommand(aliceOther, 'typing', { conversation: `room:${room.id}` })).toEqual({ ok: true, forwarded: false });
    // A direct conversation is another conversation: it goes, to Bob named by Alice.
    expect(await emitCommand(aliceOther, 'typing', { conversation: `user:${bob.id}` })).toEqual({ ok: true, forwarded: true });
    await bobWs.inbox.next((f) => f.type === 'typing' && f.conversation === `user:${alice.id}`, 'typing in the DM');

    const marker = await sendMessage(api, alice, { content: 'marker', room_id: room.id });
    await bobWs.inbox.next((f) => f.message?.id === marker.id, 'the marker');
    expect(wsOf(bobWs, 'typing')).toHaveLength(2);
    expect(wsOf(aliceWs, 'typing')).toEqual([]);
    expect(ioOf(aliceOther, 'typing')).toEqual([]);
    expect(wsOf(carolWs, 'typing')).toEqual([]);
    for (const c of [aliceWs, bobWs, carolWs]) c.ws.close();
    for (const c of [aliceOther, bobIo]) c.socket.close();
  });

  it('is refused in global (bad_request), in a room one is not in (forbidden) and towards no such user (not_found)', async () => {
    const { api, g1 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, bob, 'closed');
    const io = await connectIo(g1, alice.token);
    expect(await emitCommand(io, 'typing', { conversation: 'global' })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(await emitCommand(io, 'typing', { conversation: `room:${room.id}` })).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await emitCommand(io, 'typing', { conversation: 'user:00000000-0000-4000-8000-000000000000' })).toMatchObject({
      ok: false,
      code: 'not_found',
    });
    expect(await emitCommand(io, 'typing', { conversation: `room:${bob.id}` })).toMatchObject({ ok: false, code: 'not_found' });
    expect(await emitCommand(io, 'typing', { conversation: 'room:nope' })).toMatchObject({ ok: false, code: 'validation_failed' });
    expect(await emitCommand(io, 'typing', {})).toMatchObject({ ok: false, code: 'validation_failed' });
    io.socket.close();
  });
});

describe('read state and typing under attack', () => {
  it("refuses `read` with another pair's message, and a receipt names the caller whatever the frame says", async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob, mallory] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const secret = await sendMessage(api, alice, { content: 'secret', recipient: bob.username });
    const ws = await connectWs(g1, mallory.token);
    ws.send({ type: 'read', conversation: `user:${alice.id}`, message_id: secret.id, client_msg_id: 'steal' });
    expect(await ws.inbox.next((f) => f.type === 'error' && f.client_msg_id === 'steal', 'the refusal')).toMatchObject({ code: 'not_found' });

    const bobIo = await connectIo(g2, bob.token);
    const toMallory = await sendMessage(api, bob, { content: 'hi', recipient: mallory.username });
    ws.send({
      type: 'read',
      conversation: `user:${bob.id}`,
      message_id: toMallory.id,
      user: alice.id,
      username: alice.username,
      client_msg_id: 'spoof',
    });
    await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'spoof', 'the ack');
    const receipt = await bobIo.inbox.next((e) => e.event === 'read_receipt', 'the receipt');
    expect(receipt.payload).toEqual({ conversation: `user:${mallory.id}`, user: mallory.id, username: mallory.username, message_id: toMallory.id });
    ws.ws.close();
    bobIo.socket.close();
  });

  it('refuses typing into a room one has left', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, mallory] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'left');
    await api.fetch(`/api/rooms/${room.id}/members/${mallory.id}`, { method: 'POST', token: alice.token });
    const aliceWs = await connectWs(g2, alice.token);
    const io = await connectIo(g1, mallory.token);
    expect(await emitCommand(io, 'typing', { conversation: `room:${room.id}` })).toEqual({ ok: true, forwarded: true });
    await aliceWs.inbox.next((f) => f.type === 'typing', 'typing while a member');
    expect((await api.fetch(`/api/rooms/${room.id}/members/${mallory.id}`, { method: 'DELETE', token: mallory.token })).status).toBe(200);
    expect(await emitCommand(io, 'typing', { conversation: `room:${room.id}` })).toMatchObject({ ok: false, code: 'forbidden' });
    const marker = await sendMessage(api, alice, { content: 'marker', room_id: room.id });
    await aliceWs.inbox.next((f) => f.message?.id === marker.id, 'the marker');
    expect(wsOf(aliceWs, 'typing')).toHaveLength(1);
    aliceWs.ws.close();
    io.socket.close();
  });

  it('refuses typing beyond TYPING_RATE_LIMIT with rate_limited', async () => {
    const { api } = cluster;
    const limited = await startGateway(api.config.redis.prefix, { TYPING_RATE_LIMIT: '3' });
    try {
      const alice = await createUser(api);
      const io = await connectIo(limited, alice.token);
      const codes = [];
      // Each in a conversation of its own (the self-DM and others), so the 2 s throttle does not drop them first.
      const others = await Promise.all([createUser(api), createUser(api), createUser(api), createUser(api), createUser(api)]);
      for (const other of others) {
        const ack = await emitCommand<{ ok: boolean; code?: string }>(io, 'typing', { conversation: `user:${other.id}` });
        codes.push(ack.ok ? 'ok' : ack.code);
      }
      expect(codes).toEqual(['ok', 'ok', 'ok', 'rate_limited', 'rate_limited']);
      io.socket.close();
    } finally {
      await limited.close();
    }
  });
});
