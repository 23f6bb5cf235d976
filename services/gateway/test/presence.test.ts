import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closeRedis, type RedisClient } from '@chat/shared/connections';
import { parseEphemeralFrame, PRESENCE_WATCH_MAX, routerKeys, type EphemeralFrame } from '@chat/shared/events';
import { metricSample, testRedisClient } from '@chat/shared/testing';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitCommand, startGateway, type IoClient, type TestGateway, type WsClient } from './harness.ts';

/**
 * Presence that scales (docs/architecture.md#presence), on four gateways: a
 * user's first connection and last disconnection reach the connections that
 * share a conversation with them or watch them, through only those
 * connections' gateways, coalesced per connection; nobody else, and no other
 * gateway, hears of it. The negative is proven on the wire: every frame the
 * router publishes to any gateway's channel is recorded here.
 */
const GATEWAYS = 4;
const FLUSH = '300ms';

type Client = { kind: 'io'; c: IoClient } | { kind: 'ws'; c: WsClient };

interface Presence {
  user_id: string;
  status: string;
}

let api: TestApi;
let gateways: TestGateway[];
let tap: RedisClient;
/** Every ephemeral frame the router published, by the gateway (index) whose channel it went to. */
const tapped: Array<{ gateway: number; frame: EphemeralFrame }> = [];
/** Clients that share nothing with anyone, two per gateway (one of each kind): they must never hear of anyone's presence. */
const unrelated: Client[] = [];
/** One plain-WS client per gateway in the beacon's room, and the beacon: see `barrier`. */
const sentinels: WsClient[] = [];
let beacon: TestUser;
const open: Client[] = [];

const gw = (i: number) => gateways[i] as TestGateway;

beforeAll(async () => {
  api = await startApi();
  gateways = await Promise.all(
    // Ids of their own (the default is one per process), so that the tap can tell their channels apart.
    Array.from({ length: GATEWAYS }, (_, g) =>
      startGateway(api.config.redis.prefix, {
        GATEWAY_ID: `presence-${g + 1}`,
        LOG_LEVEL: 'info',
        PRESENCE_FLUSH_INTERVAL: FLUSH,
        DELIVERY_POLL_INTERVAL: '200ms',
      }),
    ),
  );
  // Every gateway's channel, as Redis publishes to it.
  const channels = routerKeys(api.config.redis.prefix).channel('');
  tap = testRedisClient();
  await tap.ping();
  tap.on('pmessage', (_pattern: string, channel: string, raw: string) => {
    const frame = parseEphemeralFrame(raw);
    if (!frame) return;
    const gateway = gateways.findIndex((g) => channel.startsWith(`${channels}${g.config.gatewayId}:`));
    tapped.push({ gateway, frame });
  });
  await tap.psubscribe(`${channels}*`);

  beacon = await createUser(api);
  const room = await createRoom(api, beacon, 'beacon');
  for (let g = 0; g < GATEWAYS; g++) {
    const [sentinel, ws, io] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    await addMember(beacon, room.id, sentinel);
    sentinels.push(await connectWs(gw(g), sentinel.token));
    unrelated.push({ kind: 'ws', c: await connectWs(gw(g), ws.token) }, { kind: 'io', c: await connectIo(gw(g), io.token) });
  }
  // The three users of each gateway have come online, and whatever that routed has arrived.
  await routed([3, 3, 3, 3]);
  await barrier('offline', await barrier('online'));
}, 60_000);

afterAll(async () => {
  for (const client of [...unrelated, ...open]) close(client);
  for (const sentinel of sentinels) sentinel.ws.close();
  await tap?.punsubscribe();
  if (tap) await closeRedis(tap);
  await Promise.all(gateways.map((g) => g.close()));
  await api.close();
});

async function addMember(owner: TestUser, roomId: string, member: TestUser) {
  expect((await api.fetch(`/api/rooms/${roomId}/members/${member.id}`, { method: 'POST', token: owner.token })).status).toBe(201);
}

function close(client: Client) {
  if (client.kind === 'io') client.c.socket.close();
  else client.c.ws.close();
}

async function connect(kind: Client['kind'], g: number, user: TestUser): Promise<Client> {
  const client: Client = kind === 'io' ? { kind, c: await connectIo(gw(g), user.token) } : { kind, c: await connectWs(gw(g), user.token) };
  open.push(client);
  return client;
}

/** The presence changes a client received, in order, as `status` (about `user`) or `user_id:status` (about anyone). */
function presence(client: Client, user?: TestUser): string[] {
  const all: Presence[] =
    client.kind === 'io'
      ? client.c.inbox.items.flatMap((e) => (e.event === 'presence' ? [e.payload as unknown as Presence] : []))
      : client.c.inbox.items.flatMap((f) => (f.type === 'presence' ? [f as unknown as Presence] : []));
  return user ? all.filter((p) => p.user_id === user.id).map((p) => p.status) : all.map((p) => `${p.user_id}:${p.status}`);
}

const waitFor = (client: Client, user: TestUser, statuses: string[]) =>
  expect.poll(() => presence(client, user), { timeout: 10_000, message: `${user.username}'s presence` }).toEqual(statuses);

/** Frames the router published about `user`, per gateway. */
const framesAbout = (user: TestUser) =>
  Array.from({ length: GATEWAYS }, (_, g) => tapped.filter((t) => t.gateway === g && (t.frame.data as Presence).user_id === user.id));

async function sample(g: number, name: string, labels: Record<string, string>) {
  return metricSample(await gw(g).metrics.registry.metrics(), name, labels) ?? 0;
}

/** Waits until each gateway has routed at least `counts[g]` presence changes (its own users' transitions). */
async function routed(counts: number[]) {
  // vi.waitFor rather than expect.poll: the set-up waits with it too.
  await vi.waitFor(
    async () => {
      const now = await routedNow();
      if (now.some((n, g) => n < (counts[g] ?? 0))) throw new Error(`routed ${now.join(' ')}, waiting for ${counts.join(' ')}`);
    },
    { timeout: 10_000, interval: 20 },
  );
}

const routedNow = () => Promise.all(gateways.map((_, g) => sample(g, 'chat_ephemeral_routed_total', { event: 'presence' })));

/**
 * Everything routed before this call has reached every gateway, every client
 * it was going to, and the tap: the beacon comes online (or goes offline),
 * which is routed to every gateway (a sentinel on each) after all of that.
 * Each gateway's channel and the tap keep Redis's order, and a sentinel gets
 * it at a flush no earlier than anything routed to its gateway before it.
 */
async function barrier(status: 'online' | 'offline', beaconClient?: Client): Promise<Client | undefined> {
  const seen = framesAbout(beacon).map((frames) => frames.length);
  let client = beaconClient;
  if (status === 'online') client = await connect('ws', 0, beacon);
  else if (client) close(client);
  await vi.waitFor(
    () => {
      const arrived = framesAbout(beacon).map((frames, g) => frames.length > (seen[g] ?? 0));
      if (arrived.includes(false)) throw new Error(`the beacon's frames on the tap: ${arrived.join(' ')}`);
      const heard = sentinels.map((sentinel) => presence({ kind: 'ws', c: sentinel }, beacon).at(-1));
      if (heard.some((last) => last !== status)) throw new Error(`the beacon at every sentinel: ${heard.join(' ')}`);
    },
    { timeout: 10_000, interval: 20 },
  );
  return client;
}

describe('presence over four gateways', () => {
  it("sends a stranger's connect and disconnect to no client and no gateway", async () => {
    const stranger = await createUser(api);
    const routedBefore = await routedNow();
    const receivedBefore = await Promise.all(gateways.map((_, g) => sample(g, 'chat_cluster_events_received_total', { event: 'presence' })));

    const client = await connect('io', 0, stranger);
    // Counted cluster-wide (GET /api/ws/users stays as it was) ...
    await expect
      .poll(async () => ((await (await api.fetch('/api/ws/users', { token: beacon.token })).json()) as { connected_users: string[] }).connected_users)
      .toContain(stranger.username);
    close(client);
    await expect
      .poll(async () => ((await (await api.fetch('/api/ws/users', { token: beacon.token })).json()) as { connected_users: string[] }).connected_users)
      .not.toContain(stranger.username);
    // ... and both changes routed, each to nobody.
    await routed(routedBefore.map((n, g) => (g === 0 ? n + 2 : n)));
    const beaconClient = await barrier('online');

    expect(framesAbout(stranger).map((frames) => frames.length)).toEqual([0, 0, 0, 0]);
    for (const u of unrelated) expect(presence(u)).toEqual([]);
    // Each gateway received exactly the beacon's frame, nothing about the stranger.
    const receivedAfter = await Promise.all(gateways.map((_, g) => sample(g, 'chat_cluster_events_received_total', { event: 'presence' })));
    expect(receivedAfter.map((n, g) => n - (receivedBefore[g] ?? 0))).toEqual([1, 1, 1, 1]);
    expect(await sample(0, 'chat_ephemeral_routed_frames_total', { event: 'presence' })).toBeGreaterThanOrEqual(GATEWAYS);

    await barrier('offline', beaconClient);
  }, 60_000);

  it("sends a user's changes to their room-mates, direct-message partners and watchers, once each, through their gateways only", async () => {
    const [user, roommate, partner, watcher, everything] = await Promise.all([
      createUser(api),
      createUser(api),
      createUser(api),
      createUser(api),
      createUser(api),
    ]);
    const room = await createRoom(api, user, 'shared');
    await addMember(user, room.id, roommate);
    await addMember(user, room.id, everything);
    await sendMessage(api, user, { content: 'hello partner', recipient: partner.username });
    await sendMessage(api, everything, { content: 'hello from everywhere', recipient: user.username });

    // gateway 2 (index 1): the room-mate and the watcher; gateway 3: the partner and one who is all three; gateway 4: nobody related.
    const contacts = {
      roommate: await connect('io', 1, roommate),
      watcher: await connect('ws', 1, watcher),
      partner: await connect('ws', 2, partner),
      everything: await connect('io', 2, everything),
    };
    const watch = { type: 'presence_watch', user_ids: [user.id], client_msg_id: 'watch-1' };
    (contacts.watcher.c as WsClient).send(watch);
    const ack = await (contacts.watcher.c as WsClient).inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'watch-1');
    expect(ack).toEqual({ type: 'ack', client_msg_id: 'watch-1', user_ids: [user.id], online: [] });
    expect(await emitCommand(contacts.everything.c as IoClient, 'presence_watch', { user_ids: [user.id] })).toEqual({
      ok: true,
      user_ids: [user.id],
      online: [],
    });
    const sentBefore = await sample(3, 'chat_ephemeral_sent_total', { event: 'presence', kind: 'websocket' });

    const routedBefore = await routedNow();
    const own = await connect('ws', 0, user);
    for (const client of Object.values(contacts)) await waitFor(client, user, ['online']);
    close(own);
    for (const client of Object.values(contacts)) await waitFor(client, user, ['online', 'offline']);
    await routed(routedBefore.map((n, g) => (g === 0 ? n + 2 : n)));
    const beaconClient = await barrier('online');

    // Once per change, whichever and however many of the rooms each shares.
    for (const client of Object.values(contacts)) expect(presence(client, user)).toEqual(['online', 'offline']);
    // One frame per change to each contact's gateway (naming all the rooms it holds), none to gateway 4.
    const frames = framesAbout(user);
    expect(frames.slice(1).map((list) => list.map((t) => (t.frame.data as Presence).status))).toEqual([
      ['online', 'offline'],
      ['online', 'offline'],
      [],
    ]);
    expect(new Set(frames[1]?.[0]?.frame.rooms)).toEqual(new Set([`room:${room.id}`, `presence:${user.id}`]));
    expect(new Set(frames[2]?.[0]?.frame.rooms)).toEqual(
      new Set([`room:${room.id}`, `user:${partner.id}`, `user:${everything.id}`, `presence:${user.id}`]),
    );
    for (const u of unrelated) expect(presence(u)).toEqual([]);
    expect(await sample(3, 'chat_ephemeral_sent_total', { event: 'presence', kind: 'websocket' })).toBe(sentBefore + 1); // the beacon, to the sentinel

    await barrier('offline', beaconClient);
  }, 60_000);

  it('lets a connection watch users: replaces its list, answers who is online, refuses bad input clearly', async () => {
    const [watched, stranger, viaWs, viaIo] = await Promise.all([createUser(api), createUser(api), createUser(api), createUser(api)]);
    const watchedClient = await connect('io', 0, watched);
    // Counted in presence before it is asked about.
    await expect
      .poll(async () => ((await (await api.fetch('/api/ws/users', { token: beacon.token })).json()) as { connected_users: string[] }).connected_users)
      .toContain(watched.username);
    const ws = (await connect('ws', 3, viaWs)).c as WsClient;
    const io = await connect('io', 3, viaIo);
    const watchWs = async (id: string, userIds: unknown) => {
      ws.send({ type: 'presence_watch', user_ids: userIds, client_msg_id: id });
      return ws.inbox.next((f) => (f.type === 'ack' || f.type === 'error') && f.client_msg_id === id, `the answer to ${id}`);
    };

    // Repeats collapse; an unknown (or offline) user is watched and reported offline.
    const ack = await watchWs('w1', [watched.id, watched.id, stranger.id]);
    expect(ack).toEqual({ type: 'ack', client_msg_id: 'w1', user_ids: [watched.id, stranger.id], online: [watched.id] });
    expect(await emitCommand(io.c as IoClient, 'presence_watch', { user_ids: [watched.id] })).toEqual({
      ok: true,
      user_ids: [watched.id],
      online: [watched.id],
    });

    close(watchedClient);
    await waitFor({ kind: 'ws', c: ws }, watched, ['offline']);
    await waitFor(io, watched, ['offline']);

    // An empty list stops watching: the Socket.IO client on the same gateway still watches, and gets the next change in the same flush.
    expect(await watchWs('w2', [])).toEqual({ type: 'ack', client_msg_id: 'w2', user_ids: [], online: [] });
    const again = await connect('ws', 0, watched);
    await waitFor(io, watched, ['offline', 'online']);
    expect(presence({ kind: 'ws', c: ws }, watched)).toEqual(['offline']);
    close(again);
    await waitFor(io, watched, ['offline', 'online', 'offline']);

    // Bad input: an error naming the problem, with the command's id; the connection stays usable.
    const notIds = await watchWs('w3', ['not-a-user-id']);
    expect(notIds).toMatchObject({ type: 'error', code: 'validation_failed', client_msg_id: 'w3', details: [{ field: 'user_ids.0' }] });
    const tooMany = await watchWs(
      'w4',
      Array.from({ length: PRESENCE_WATCH_MAX + 1 }, () => crypto.randomUUID()),
    );
    expect(tooMany).toMatchObject({ type: 'error', code: 'validation_failed', client_msg_id: 'w4', details: [{ field: 'user_ids' }] });
    expect(await emitCommand(io.c as IoClient, 'presence_watch', { user_ids: 'everyone' })).toMatchObject({ ok: false, code: 'validation_failed' });
    ws.send({ type: 'ping' });
    await ws.inbox.next((f) => f.type === 'pong');
  }, 60_000);
});
