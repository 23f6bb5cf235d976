import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRoom, createUser, sendMessage, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, spawnGateway, startGateway, startTwoGateways, type TestGateway } from './harness.ts';

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
let api: TestApi;
let g1: TestGateway;
let g2: TestGateway;

beforeAll(async () => {
  cluster = await startTwoGateways();
  ({ api, g1, g2 } = cluster);
});
afterAll(() => cluster.close());

const connectedUsers = async (as: TestUser) => {
  const res = await api.fetch('/api/ws/users', { token: as.token });
  return (await res.json()) as { connected_users: string[]; count: number };
};

describe('membership changes over REST', () => {
  it('take effect on live sockets on every gateway at once', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'live');
    const bobIo = await connectIo(g1, bob.token);
    const bobWs = await connectWs(g2, bob.token);
    const aliceWs = await connectWs(g1, alice.token);

    const before = `before ${crypto.randomUUID()}`;
    await sendMessage(api, alice, { content: before, room_id: room.id });
    await aliceWs.inbox.next((f) => f.message?.content === before);

    expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
    const during = `during ${crypto.randomUUID()}`;
    await sendMessage(api, alice, { content: during, room_id: room.id });
    await bobIo.inbox.next((e) => e.payload.content === during, 'the room message after joining');
    await bobWs.inbox.next((f) => f.message?.content === during, 'the room message after joining');

    expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'DELETE', token: alice.token })).status).toBe(200);
    const after = `after ${crypto.randomUUID()}`;
    await sendMessage(api, alice, { content: after, room_id: room.id });
    await aliceWs.inbox.next((f) => f.message?.content === after);
    // A global barrier sent later: once it arrives, the room message would have too.
    const barrier = `barrier ${crypto.randomUUID()}`;
    await sendMessage(api, alice, { content: barrier });
    await bobIo.inbox.next((e) => e.payload.content === barrier);
    await bobWs.inbox.next((f) => f.message?.content === barrier);
    const bobSaw = [...bobIo.inbox.items.map((e) => e.payload.content), ...bobWs.inbox.items.map((f) => f.message?.content)];
    expect(bobSaw).not.toContain(before);
    expect(bobSaw).not.toContain(after);

    bobIo.socket.close();
    bobWs.ws.close();
    aliceWs.ws.close();
  });
});

describe('logout', () => {
  it("disconnects the token's sockets on every gateway and leaves the user's other sessions alone", async () => {
    const bob = await createUser(api);
    const otherLogin = await api.fetch('/api/auth/login', { method: 'POST', json: { username: bob.username, password: bob.password } });
    const otherToken = ((await otherLogin.json()) as { token: string }).token;
    const io = await connectIo(g1, bob.token);
    const ws = await connectWs(g2, bob.token);
    const otherSession = await connectWs(g1, otherToken);

    expect((await api.fetch('/api/auth/logout', { method: 'POST', token: bob.token })).status).toBe(200);
    expect(await io.disconnected).toBe('io server disconnect');
    expect(await ws.closed).toEqual({ code: 4001, reason: 'token revoked' });
    otherSession.send({ type: 'ping' });
    await otherSession.inbox.next((f) => f.type === 'pong');
    expect(otherSession.ws.readyState).toBe(WebSocket.OPEN);
    otherSession.ws.close();
  });
});

describe('presence', () => {
  it('counts connections across gateways and announces first and last only, to those who share a room', async () => {
    const [watcher, bob, eve] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, watcher, 'presence');
    for (const member of [bob, eve]) {
      expect((await api.fetch(`/api/rooms/${room.id}/members/${member.id}`, { method: 'POST', token: watcher.token })).status).toBe(201);
    }
    const watch = await connectIo(g1, watcher.token);
    const statusOf = (user: TestUser) =>
      watch.inbox.items.filter((e) => e.event === 'presence' && e.payload.user_id === user.id).map((e) => e.payload.status);

    const first = await connectWs(g2, bob.token);
    await watch.inbox.next((e) => e.event === 'presence' && e.payload.user_id === bob.id && e.payload.status === 'online');
    const second = await connectIo(g1, bob.token);
    expect((await connectedUsers(watcher)).connected_users).toContain(bob.username);

    // eve's announcement is published after bob's second connection was counted, and
    // bob's first was already sent: a second "online" for bob would be here by then.
    const eveWs = await connectWs(g1, eve.token);
    await watch.inbox.next((e) => e.event === 'presence' && e.payload.user_id === eve.id);
    expect(statusOf(bob)).toEqual(['online']);

    first.ws.close();
    second.socket.close();
    await watch.inbox.next((e) => e.event === 'presence' && e.payload.user_id === bob.id && e.payload.status === 'offline');
    expect(statusOf(bob)).toEqual(['online', 'offline']);
    const after = await connectedUsers(watcher);
    expect(after.connected_users).not.toContain(bob.username);
    expect(after.connected_users).toContain(eve.username);
    expect(after.count).toBe(after.connected_users.length);

    eveWs.ws.close();
    watch.socket.close();
  });

  it("stops counting a gateway's users within its lease after the process is killed without cleanup", async () => {
    const dave = await createUser(api);
    const doomed = await spawnGateway(api.config.redis.prefix, { PRESENCE_LEASE: '2s' });
    const client = await connectWs({ url: doomed.url } as TestGateway, dave.token);
    await expect.poll(async () => (await connectedUsers(dave)).connected_users, { timeout: 5_000 }).toContain(dave.username);

    doomed.kill('SIGKILL');
    await doomed.exited;
    // Nothing cleaned up after the killed process: only the 2 s lease running out can
    // remove dave, and the wait's deadline (lease plus slack for a busy machine) bounds it.
    await expect.poll(async () => (await connectedUsers(dave)).connected_users, { timeout: 2_000 + 5_000 }).not.toContain(dave.username);
    client.ws.terminate();
  });
});

describe('heartbeats', () => {
  it('drop a plain-WebSocket peer that stops answering pings, and keep one that answers', async () => {
    const gw = await startGateway(api.config.redis.prefix, { WEBSOCKET_PING_PERIOD: '100ms', WEBSOCKET_PONG_WAIT: '300ms' });
    try {
      const user = await createUser(api);
      const dead = await connectWs(gw, user.token, { autoPong: false });
      const alive = await connectWs(gw, user.token);
      expect((await dead.closed).code).toBe(1006);
      alive.send({ type: 'ping' });
      await alive.inbox.next((f) => f.type === 'pong');
      expect(alive.ws.readyState).toBe(WebSocket.OPEN);
      alive.ws.close();
    } finally {
      await gw.close();
    }
  });
});

describe('graceful shutdown on SIGTERM', () => {
  it('closes plain sockets with 1001, drops Socket.IO transports so clients reconnect, and leaves presence clean', async () => {
    const user = await createUser(api);
    const proc = await spawnGateway(api.config.redis.prefix);
    const target = { url: proc.url } as TestGateway;
    const ws = await connectWs(target, user.token);
    const io = await connectIo(target, user.token);
    await expect.poll(async () => (await connectedUsers(user)).connected_users, { timeout: 5_000 }).toContain(user.username);

    proc.kill('SIGTERM');
    expect((await ws.closed).code).toBe(1001);
    expect(await io.disconnected).toBe('transport close');
    expect(await proc.exited).toBe(0);
    // No waiting for a lease: the gateway removed its own presence on the way out.
    expect((await connectedUsers(user)).connected_users).not.toContain(user.username);
  });
});
