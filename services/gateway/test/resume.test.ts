import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRoom, createUser, sendMessage, type TestUser } from '../../api/test/harness.ts';
import {
  connectIo,
  connectWs,
  CURSOR,
  startGateway,
  startTwoGateways,
  watchGateway,
  type IoClient,
  type TestGateway,
  type WsClient,
} from './harness.ts';

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;

beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

type Delivered = { event: string; id: string; content: string; cursor: string };

/** Message deliveries a plain-WS client got, in arrival order, whatever else came in between. */
const wsMessages = (c: WsClient): Delivered[] =>
  c.inbox.items
    .filter((f) => f.type === 'message' || f.type === 'direct_message')
    .map((f) => ({ event: f.type, id: f.message?.id ?? '', content: f.message?.content ?? '', cursor: String(f.cursor) }));

const ioMessages = (c: IoClient): Delivered[] =>
  c.inbox.items
    .filter((e) => e.event === 'message' || e.event === 'direct_message')
    .map((e) => ({ event: e.event, id: String(e.payload.id), content: String(e.payload.content), cursor: String(e.payload.cursor) }));

/** Sends what a disconnected `bob` should and should not get: global, a DM to him, his room, someone else's DM. */
async function sendWhileAway(alice: TestUser, bob: TestUser, carol: TestUser, roomId: string, tag: string) {
  const expected = [
    { event: 'message', ...(await sendMessage(cluster.api, alice, { content: `${tag} global` })) },
    { event: 'direct_message', ...(await sendMessage(cluster.api, alice, { content: `${tag} dm`, recipient: bob.username })) },
    { event: 'message', ...(await sendMessage(cluster.api, alice, { content: `${tag} room`, room_id: roomId })) },
  ];
  const hidden = await sendMessage(cluster.api, alice, { content: `${tag} not for bob`, recipient: carol.username });
  return { expected: expected.map((m) => ({ event: m.event, id: m.id })), hidden: hidden.id };
}

async function usersWithRoom() {
  const { api } = cluster;
  const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
  const room = await createRoom(api, alice, 'resume');
  expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
  return { alice, bob, carol, roomId: room.id };
}

describe('resuming a plain WebSocket', () => {
  it('replays what was missed in order, then says so, then continues live, none twice', async () => {
    const { alice, bob, carol, roomId } = await usersWithRoom();
    const first = await connectWs(cluster.g1, bob.token);
    const before = await sendMessage(cluster.api, alice, { content: 'before' });
    const seen = await first.inbox.next((f) => f.message?.id === before.id, 'the first message');
    expect(seen.cursor).toMatch(CURSOR);
    first.ws.terminate();
    await first.closed;

    const g2 = await watchGateway(cluster.g2, alice);
    const { expected, hidden } = await sendWhileAway(alice, bob, carol, roomId, 'ws');
    await g2.applied(hidden);
    g2.close();
    // Another gateway than the one it left: resume does not depend on where the client was.
    const second = await connectWs(cluster.g2, bob.token, { since: String(seen.cursor) });
    const resumed = await second.inbox.next((f) => f.type === 'resumed', 'the resumed frame');
    expect(resumed).toEqual({ type: 'resumed', cursor: expect.stringMatching(CURSOR) as string, replayed: 3 });
    const replayed = wsMessages(second);
    expect(replayed.map((m) => ({ event: m.event, id: m.id }))).toEqual(expected);
    expect(second.inbox.items.map((f) => f.type)).toEqual(['connection', 'message', 'direct_message', 'message', 'resumed']);

    const live = await sendMessage(cluster.api, alice, { content: 'live after resume' });
    await second.inbox.next((f) => f.message?.id === live.id, 'the live message');
    const ids = wsMessages(second).map((m) => m.id);
    expect(ids).toEqual([...expected.map((m) => m.id), live.id]);
    expect(ids).not.toContain(hidden);
    second.ws.close();
  });

  it('resumes from the position the connection frame gave, before any message arrived', async () => {
    const { alice, bob } = await usersWithRoom();
    const first = await connectWs(cluster.g1, bob.token);
    const start = first.inbox.items[0]?.cursor;
    expect(start).toMatch(CURSOR);
    first.ws.terminate();
    await first.closed;
    const g1 = await watchGateway(cluster.g1, alice);
    const missed = await sendMessage(cluster.api, alice, { content: 'sent before any delivery', recipient: bob.username });
    await g1.applied(missed.id);
    g1.close();
    const second = await connectWs(cluster.g1, bob.token, { since: String(start) });
    await second.inbox.next((f) => f.type === 'resumed', 'the resumed frame');
    expect(wsMessages(second).map((m) => m.id)).toEqual([missed.id]);
    second.ws.close();
  });
});

describe('resuming Socket.IO', () => {
  it('replays what was missed in order with auth.since, then continues live, none twice', async () => {
    const { alice, bob, carol, roomId } = await usersWithRoom();
    const first = await connectIo(cluster.g2, bob.token);
    const hello = await first.inbox.next((e) => e.event === 'resumed', 'the first resumed event');
    expect(hello.payload).toEqual({ cursor: expect.stringMatching(CURSOR) as string, replayed: 0 });
    const before = await sendMessage(cluster.api, alice, { content: 'io before' });
    const seen = await first.inbox.next((e) => e.payload.id === before.id, 'the first message');
    first.socket.close();

    const g1 = await watchGateway(cluster.g1, alice);
    const { expected, hidden } = await sendWhileAway(alice, bob, carol, roomId, 'io');
    await g1.applied(hidden);
    g1.close();
    const second = await connectIo(cluster.g1, bob.token, { since: seen.payload.cursor });
    const resumed = await second.inbox.next((e) => e.event === 'resumed', 'the resumed event');
    expect(resumed.payload.replayed).toBe(3);
    expect(second.inbox.items.map((e) => e.event).filter((e) => e !== 'presence')).toEqual(['message', 'direct_message', 'message', 'resumed']);
    expect(ioMessages(second).map((m) => ({ event: m.event, id: m.id }))).toEqual(expected);

    const live = await sendMessage(cluster.api, alice, { content: 'io live after resume' });
    await second.inbox.next((e) => e.payload.id === live.id, 'the live message');
    const ids = ioMessages(second).map((m) => m.id);
    expect(ids).toEqual([...expected.map((m) => m.id), live.id]);
    expect(ids).not.toContain(hidden);
    second.socket.close();
  });
});

/** Opens the plain endpoint with a cursor and collects what it says before closing. */
function refusedWs(gw: TestGateway, token: string, since: string): Promise<{ frames: unknown[]; code: number }> {
  const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
  url.searchParams.set('token', token);
  url.searchParams.set('since', since);
  const ws = new WebSocket(url);
  const frames: unknown[] = [];
  ws.on('message', (data) => frames.push(JSON.parse((data as Buffer).toString('utf8'))));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('close', (code) => resolve({ frames, code }));
  });
}

describe('a cursor that is not yours to resume from', () => {
  it("is refused with invalid_cursor on both socket kinds: malformed, forged, another user's, or naming a message you may not see", async () => {
    const { alice, bob, carol } = await usersWithRoom();
    const carolWs = await connectWs(cluster.g1, carol.token);
    const carolsPosition = String(carolWs.inbox.items[0]?.cursor);
    const secret = await sendMessage(cluster.api, alice, { content: 'for carol only', recipient: carol.username });
    const secretFrame = await carolWs.inbox.next((f) => f.message?.id === secret.id, "carol's DM");
    carolWs.ws.close();
    const genuine = String(secretFrame.cursor);
    const [kind, position, mac] = genuine.split('.') as [string, string, string];
    const forged = `${kind}.${(Number.parseInt(position, 36) - 1).toString(36)}.${mac}`;

    for (const since of ['garbage', '', 'm1.zz.AAAAAAAAAAAAAAAA', forged, carolsPosition, genuine]) {
      const refused = await refusedWs(cluster.g2, bob.token, since);
      expect(refused.code, since).toBe(4003);
      expect(refused.frames, since).toEqual([{ type: 'error', code: 'invalid_cursor', error: expect.any(String) as string }]);
      await expect(connectIo(cluster.g1, bob.token, { since }), since).rejects.toMatchObject({ data: { code: 'invalid_cursor' } });
    }
    await expect(connectIo(cluster.g1, bob.token, { since: { $gt: '' } })).rejects.toMatchObject({ data: { code: 'invalid_cursor' } });
    // Carol herself may resume from both.
    const ok = await connectWs(cluster.g2, carol.token, { since: genuine });
    await ok.inbox.next((f) => f.type === 'resumed', 'carol resumes');
    ok.ws.close();
  });
});

describe('a backlog over the cap', () => {
  let small: TestGateway;
  beforeAll(async () => {
    small = await startGateway(cluster.api.config.redis.prefix, { RESUME_MAX_BACKLOG: '3' });
  });
  afterAll(() => small.close());

  it('is not replayed: the client is told to reload from REST, then gets live messages', async () => {
    const { alice, bob } = await usersWithRoom();
    const first = await connectWs(small, bob.token);
    const start = String(first.inbox.items[0]?.cursor);
    first.ws.close();
    const watch = await watchGateway(small, alice);
    let last = '';
    for (let i = 0; i < 4; i++) last = (await sendMessage(cluster.api, alice, { content: `backlog ${i}`, recipient: bob.username })).id;
    await watch.applied(last);
    watch.close();

    const ws = await connectWs(small, bob.token, { since: start });
    const reload = await ws.inbox.next((f) => f.type === 'reload', 'the reload frame');
    expect(reload).toEqual({ type: 'reload', reason: 'backlog_too_large', cursor: expect.stringMatching(CURSOR) as string });
    const io = await connectIo(small, bob.token, { since: start });
    const ioReload = await io.inbox.next((e) => e.event === 'reload', 'the reload event');
    expect(ioReload.payload).toEqual({ reason: 'backlog_too_large', cursor: expect.stringMatching(CURSOR) as string });
    expect(wsMessages(ws)).toEqual([]);
    expect(ioMessages(io)).toEqual([]);

    const live = await sendMessage(cluster.api, alice, { content: 'after the reload', recipient: bob.username });
    await ws.inbox.next((f) => f.message?.id === live.id, 'live over ws');
    await io.inbox.next((e) => e.payload.id === live.id, 'live over io');
    // The reload cursor stands where live delivery took over: resuming from it replays only what came after.
    ws.ws.close();
    const again = await connectWs(small, bob.token, { since: String(reload.cursor) });
    await again.inbox.next((f) => f.type === 'resumed', 'resumed from the reload cursor');
    expect(wsMessages(again).map((m) => m.id)).toEqual([live.id]);
    again.ws.close();
    io.socket.close();
  });
});
