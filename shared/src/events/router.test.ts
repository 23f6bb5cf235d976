import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../redis.ts';
import { deletePrefix, testRedisClient, uniquePrefix } from '../testing/redis.ts';
import { rooms } from './rooms.ts';
import { createRouter, EVERY_ROOM, parseFrame, type Frame } from './router.ts';
import type { Delivery } from './types.ts';

let redis: RedisClient;
let subscriber: RedisClient;
const LEASE_MS = 60_000;

beforeAll(async () => {
  redis = testRedisClient();
  subscriber = testRedisClient();
  // Connected (and past ioredis's ready check) before it turns subscriber.
  await Promise.all([redis.ping(), subscriber.ping()]);
});
afterAll(async () => {
  await subscriber.quit();
  await redis.quit();
});

const message = (seq: number, to: string[] = [rooms.global]): Delivery => ({
  rooms: to,
  event: 'message',
  seq,
  message: { id: randomUUID(), sender: 'a', recipient: null, room_id: null, content: `#${seq}`, created_at: new Date(0).toISOString() },
});

/** A router on a fresh prefix, and the frames each named gateway gets. */
function setUp() {
  const prefix = uniquePrefix();
  const router = createRouter(redis, prefix);
  const got = new Map<string, Frame[]>();
  const listen = async (gateway: string) => {
    got.set(gateway, []);
    await subscriber.subscribe(router.channel(gateway));
  };
  subscriber.on('message', (channel: string, raw: string) => {
    for (const [gateway, frames] of got) if (channel === router.channel(gateway)) frames.push(parseFrame(raw) as Frame);
  });
  const framesOf = async (gateway: string, n: number) => {
    for (let i = 0; (got.get(gateway)?.length ?? 0) < n; i++) {
      if (i > 200) throw new Error(`${gateway} got ${got.get(gateway)?.length} of ${n} frames`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return got.get(gateway) as Frame[];
  };
  const seqs = (frames: Frame[]) => frames.map((f) => (f.data as Delivery).seq);
  return { prefix, router, listen, framesOf, seqs, done: () => deletePrefix(prefix) };
}

describe('the router', () => {
  it('routes a message only to the gateways of its rooms, once each, numbering frames per gateway', async () => {
    const { router, listen, framesOf, seqs, done } = setUp();
    await Promise.all(['a', 'b', 'c'].map(listen));
    await router.register('a', [rooms.global, rooms.user('u1')], LEASE_MS);
    await router.register('b', [rooms.global, rooms.user('u2')], LEASE_MS);
    await router.register('c', [rooms.global], LEASE_MS);
    expect(await router.init(1)).toBe(1);
    await router.route(message(1, [rooms.user('u1'), rooms.user('u2')]));
    await router.route(message(2, [rooms.user('u1')]));
    await router.route(message(3));
    expect(seqs(await framesOf('a', 3))).toEqual([1, 2, 3]);
    expect((await framesOf('a', 3)).map((f) => f.g)).toEqual([1, 2, 3]);
    expect(seqs(await framesOf('b', 2))).toEqual([1, 3]);
    expect(seqs(await framesOf('c', 1))).toEqual([3]);
    expect(await router.sync('c', LEASE_MS)).toEqual({ next: 4, g: 1, held: 0 });
    await done();
  });

  it('routes in log order whatever order the publishers call it in, and holds nothing before it knows where to start', async () => {
    const { router, listen, framesOf, seqs, done } = setUp();
    await listen('a');
    await router.register('a', [rooms.global], LEASE_MS);
    // No start yet (a new deployment, or Redis lost its data): held.
    await router.route(message(12));
    await router.route(message(10));
    expect(await router.sync('a', LEASE_MS)).toEqual({ next: 0, g: 0, held: 2 });
    // A gateway read the log up to 10: 10 is dropped (it had it), 11 is awaited.
    expect(await router.init(11)).toBe(11);
    await router.route(message(13));
    expect((await router.sync('a', LEASE_MS))?.held).toBe(2);
    await router.route(message(11));
    expect(seqs(await framesOf('a', 3))).toEqual([11, 12, 13]);
    expect(await router.sync('a', LEASE_MS)).toEqual({ next: 14, g: 3, held: 0 });
    // Late and repeated: nothing.
    await router.route(message(12));
    expect((await router.sync('a', LEASE_MS))?.g).toBe(3);
    await done();
  });

  it("adds the room for the user's gateways in the same step as routing the join, and keeps it against an unregister decided before", async () => {
    const { router, listen, framesOf, done } = setUp();
    await listen('a');
    await router.register('a', [rooms.user('u1')], LEASE_MS);
    await router.init(1);
    await router.control(rooms.user('u1'), 'membership', { action: 'join', userId: 'u1', roomId: 'r1', logHead: 0 }, rooms.room('r1'));
    const [join] = await framesOf('a', 1);
    expect(join).toMatchObject({ g: 1, next: 1, event: 'membership' });
    // Decided before the gateway saw frame 1: the room stays.
    await router.unregister('a', [rooms.room('r1')], 0);
    await router.route(message(1, [rooms.room('r1')]));
    expect((await framesOf('a', 2))[1]).toMatchObject({ g: 2, event: 'deliver' });
    // Decided after: it goes.
    await router.unregister('a', [rooms.room('r1')], 2);
    await router.route(message(2, [rooms.room('r1')]));
    expect((await router.sync('a', LEASE_MS))?.g).toBe(2);
    await done();
  });

  it('stops routing to a gateway whose lease ran out, and says so when it syncs', async () => {
    const { router, listen, framesOf, done } = setUp();
    await Promise.all(['a', 'gone'].map(listen));
    await router.register('a', [rooms.global], LEASE_MS);
    await router.register('gone', [rooms.global], 50);
    await router.init(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await router.route(message(1));
    await framesOf('a', 1);
    expect(await router.sync('gone', LEASE_MS)).toBeUndefined();
    expect((await router.register('gone', [rooms.global], LEASE_MS)).fresh).toBe(true);
    await done();
  });

  it('sends every event to an observer of every room', async () => {
    const { router, listen, framesOf, done } = setUp();
    await listen('tap');
    await router.register('tap', [EVERY_ROOM], LEASE_MS);
    await router.init(1);
    await router.route(message(1, [rooms.user('nobody')]));
    await router.control(rooms.user('nobody'), 'token_revoked', { userId: 'nobody', jti: 'j' });
    expect((await framesOf('tap', 2)).map((f) => f.event)).toEqual(['deliver', 'token_revoked']);
    await done();
  });

  it('parses only well-formed frames', () => {
    expect(parseFrame('3|10|{"event":"deliver","data":{"x":1}}')).toEqual({ g: 3, next: 10, event: 'deliver', data: { x: 1 } });
    for (const bad of ['', 'x|1|{}', '1|2|not json', '1|2|{"data":1}', '1|{"event":"x"}']) expect(parseFrame(bad)).toBeUndefined();
  });
});
