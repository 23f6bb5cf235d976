import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEventPublisher } from '@chat/shared/events';
import { createLogger } from '@chat/shared/logger';
import { metricSample } from '@chat/shared/testing';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, startGateway, type IoClient, type TestGateway, type WsClient } from './harness.ts';

/**
 * Four gateways, users spread over them: each gateway must receive the events
 * addressed to its own connections, not the cluster's (docs/architecture.md#targeted-fan-out).
 */
const GATEWAYS = 4;
const USERS_PER_GATEWAY = 4;
const DMS = 240;
/** Control frames a gateway may receive besides what its connections are addressed by. */
const CONTROL_ALLOWANCE = 5;

type Client = { kind: 'io'; c: IoClient } | { kind: 'ws'; c: WsClient };
interface Seat {
  user: TestUser;
  gateway: number;
  client: Client;
}

let api: TestApi;
let gateways: TestGateway[];
let seats: Seat[];

beforeAll(async () => {
  api = await startApi();
  // A short poll: rooms nobody on a gateway needs any more are dropped within it.
  gateways = await Promise.all(
    Array.from({ length: GATEWAYS }, () => startGateway(api.config.redis.prefix, { LOG_LEVEL: 'info', DELIVERY_POLL_INTERVAL: '200ms' })),
  );
  seats = [];
  for (let g = 0; g < GATEWAYS; g++) {
    for (let u = 0; u < USERS_PER_GATEWAY; u++) {
      const user = await createUser(api);
      const gw = gateways[g] as TestGateway;
      const client: Client = u % 2 === 0 ? { kind: 'ws', c: await connectWs(gw, user.token) } : { kind: 'io', c: await connectIo(gw, user.token) };
      seats.push({ user, gateway: g, client });
    }
  }
}, 60_000);

afterAll(async () => {
  for (const s of seats) closeClient(s.client);
  await Promise.all(gateways.map((g) => g.close()));
  await api.close();
});

function closeClient(client: Client) {
  if (client.kind === 'io') client.c.socket.close();
  else client.c.ws.close();
}

async function counters(gw: TestGateway, event: string) {
  const text = await gw.metrics.registry.metrics();
  return {
    received: metricSample(text, 'chat_cluster_events_received_total', { event }) ?? 0,
    delivered: metricSample(text, 'chat_cluster_events_delivered_total', { event }) ?? 0,
  };
}

const allCounters = (event: string) => Promise.all(gateways.map((g) => counters(g, event)));

function contents(client: Client): string[] {
  if (client.kind === 'io') return client.c.inbox.items.flatMap((e) => (typeof e.payload?.content === 'string' ? [e.payload.content] : []));
  return client.c.inbox.items.flatMap((f) => (f.message ? [f.message.content] : []));
}

async function waitUntilReceived(client: Client, content: string) {
  if (client.kind === 'io') await client.c.inbox.next((e) => e.payload?.content === content, `"${content}" over Socket.IO`, 10_000);
  else await client.c.inbox.next((f) => f.message?.content === content, `"${content}" over ws`, 10_000);
}

/** Every ordered pair of users once (16 users: 240 messages), so each gateway is addressed by 108 of them. */
function pairs(): Array<[Seat, Seat]> {
  return seats.flatMap((a) => seats.filter((b) => b !== a).map((b): [Seat, Seat] => [a, b]));
}

describe('targeted fan-out over four gateways', () => {
  it('sends each gateway only the direct messages of its own users', async () => {
    const before = await allCounters('deliver');
    const traffic = pairs();
    expect(traffic).toHaveLength(DMS);
    const addressed = Array.from({ length: GATEWAYS }, () => 0);
    for (const [i, [from, to]] of traffic.entries()) {
      await sendMessage(api, from.user, { content: `dm ${i}`, recipient: to.user.username });
      for (const g of new Set([from.gateway, to.gateway])) addressed[g] = (addressed[g] ?? 0) + 1;
    }
    // Each DM reaches its recipient (and the sender's own connections) wherever they are.
    for (const [i, [from, to]] of traffic.entries()) {
      await waitUntilReceived(to.client, `dm ${i}`);
      await waitUntilReceived(from.client, `dm ${i}`);
    }
    const after = await allCounters('deliver');
    const rows = gateways.map((_, g) => ({
      gateway: g + 1,
      addressed: addressed[g] ?? 0,
      received: (after[g]?.received ?? 0) - (before[g]?.received ?? 0),
      delivered: (after[g]?.delivered ?? 0) - (before[g]?.delivered ?? 0),
    }));
    console.log(
      `${DMS} direct messages, 4 gateways:\n${rows.map((r) => `  gateway ${r.gateway}: addressed ${r.addressed}, received ${r.received}, delivered ${r.delivered}`).join('\n')}`,
    );
    for (const row of rows) {
      expect(row.delivered).toBe(row.addressed);
      expect(row.received).toBeLessThanOrEqual(1.5 * row.addressed + CONTROL_ALLOWANCE);
      // Without targeting every gateway would have received all of them.
      expect(row.received).toBeLessThan(DMS * 0.6);
    }
  }, 120_000);

  it("sends a room's messages only to the gateways of its members, and stops once they are gone", async () => {
    // Members on gateways 1 and 2 only.
    const owner = seats.find((s) => s.gateway === 0) as Seat;
    const member = seats.find((s) => s.gateway === 1) as Seat;
    const room = await createRoom(api, owner.user, 'targeted');
    const added = await api.fetch(`/api/rooms/${room.id}/members/${member.user.id}`, { method: 'POST', token: owner.user.token });
    expect(added.status).toBeLessThan(300);
    const before = await allCounters('deliver');
    for (let i = 0; i < 20; i++) await sendMessage(api, owner.user, { content: `room ${i}`, room_id: room.id });
    await waitUntilReceived(member.client, 'room 19');
    await waitUntilReceived(owner.client, 'room 19');
    const after = await allCounters('deliver');
    const received = after.map((a, g) => a.received - (before[g]?.received ?? 0));
    expect(received).toEqual([20, 20, 0, 0]);

    // The member on gateway 2 leaves: once its poll has swept the room, gateway 2 gets no more of it.
    const left = await api.fetch(`/api/rooms/${room.id}/members/${member.user.id}`, { method: 'DELETE', token: member.user.token });
    expect(left.status).toBeLessThan(300);
    const g2 = gateways[1] as TestGateway;
    let probes = 0;
    await vi.waitFor(
      async () => {
        const probe = `probe ${probes++}`;
        const mark = (await counters(g2, 'deliver')).received;
        await sendMessage(api, owner.user, { content: probe, room_id: room.id });
        await waitUntilReceived(owner.client, probe);
        expect((await counters(g2, 'deliver')).received, `gateway 2 still receives the room after its last member left (${probe})`).toBe(mark);
      },
      { timeout: 10_000, interval: 100 },
    );
  }, 60_000);

  it("gives a joiner the room's messages routed between its join and the join reaching its gateway, once each", async () => {
    // The room lives on gateway 3; the joiner sits on gateway 4, which has no reason to get the room yet.
    const owner = seats.find((s) => s.gateway === 2) as Seat;
    const joiner = seats.find((s) => s.gateway === 3) as Seat;
    const room = await createRoom(api, owner.user, 'late join');
    // The join commits, but its membership event is held back (a slow publisher) while a message goes to the room.
    const { db } = api.resources;
    const logHead = Number((await db.selectFrom('message_log').select('head').executeTakeFirstOrThrow()).head);
    await db.insertInto('room_members').values({ room_id: room.id, user_id: joiner.user.id }).execute();
    await sendMessage(api, owner.user, { content: 'while the join travels', room_id: room.id });
    await waitUntilReceived(owner.client, 'while the join travels');
    const publisher = createEventPublisher(api.resources.redis, api.config.redis.prefix, createLogger({ level: 'silent', service: 'test' }));
    publisher.membershipChanged({ action: 'join', userId: joiner.user.id, roomId: room.id, logHead });
    await waitUntilReceived(joiner.client, 'while the join travels');
    await sendMessage(api, owner.user, { content: 'after the join', room_id: room.id });
    await waitUntilReceived(joiner.client, 'after the join');
    // The owner's copy too, so no delivery of this test is counted by the next one.
    await waitUntilReceived(owner.client, 'after the join');
    const got = contents(joiner.client).filter((c) => c === 'while the join travels' || c === 'after the join');
    expect(got).toEqual(['while the join travels', 'after the join']);
  });

  it('still sends global messages to every gateway', async () => {
    const before = await allCounters('deliver');
    const from = seats[0] as Seat;
    await sendMessage(api, from.user, { content: 'to everyone' });
    for (const s of seats) await waitUntilReceived(s.client, 'to everyone');
    const after = await allCounters('deliver');
    expect(after.map((a, g) => a.delivered - (before[g]?.delivered ?? 0))).toEqual([1, 1, 1, 1]);
  });
});
