import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { rooms } from '../rooms.ts';
import type { Delivery } from '../types.ts';
import { EPHEMERAL_ROOMS_PER_CALL } from './redis.ts';
import type { EphemeralFrame, Frame, FrameListener, Router } from './types.ts';
import { messageFixture } from '../../testing/messages.ts';

/**
 * What every Router must do, through the interface alone (types.ts), so that
 * an implementation other than Redis's can be run against the same suite:
 *
 *   routerContract('my router', async () => ({ router: ..., close: async () => {...} }));
 *
 * `make` is called once per test and must return a router with nothing in it
 * (no registrations, routing not started).
 */
export interface RouterUnderTest {
  router: Router;
  /** Ends this router's state (the suite closes the listeners it opened itself). */
  close(): Promise<void>;
  /** The held cap the router was made with: when set (and small), the suite fills it. */
  maxHeld?: number;
  /** Puts `raw` on the gateway's channel as it is; when set, the suite checks that a malformed frame goes to `onMalformed`. */
  sendRaw?(gateway: string, raw: string): Promise<void>;
}

const LEASE_MS = 60_000;
/** How long a frame may take to arrive before a test fails. */
const ARRIVAL_MS = 5_000;

export const contractMessage = (seq: number, to: string[] = [rooms.global]): Delivery => ({
  rooms: to,
  event: 'message',
  seq,
  message: messageFixture({ id: randomUUID(), content: `#${seq}`, created_at: new Date(0).toISOString() }),
});

const seqs = (frames: Frame[]) => frames.map((f) => (f.data as Delivery).seq);

/** Waits until `done` holds, failing after ARRIVAL_MS with `what`. */
const until = (done: () => boolean, what: string) =>
  vi.waitFor(
    () => {
      if (!done()) throw new Error(`timed out waiting for ${what}`);
    },
    { timeout: ARRIVAL_MS, interval: 5 },
  );

/** The frames each gateway receives, through `listen`. */
function receiver(router: Router) {
  const got = new Map<string, Frame[]>();
  const ephemeral = new Map<string, EphemeralFrame[]>();
  /** Both kinds in channel order, as `g<n>` and `e:<event>`. */
  const order = new Map<string, string[]>();
  const malformed = new Map<string, string[]>();
  const listeners: FrameListener[] = [];
  return {
    async listen(...gateways: string[]) {
      for (const gateway of gateways) {
        got.set(gateway, []);
        ephemeral.set(gateway, []);
        order.set(gateway, []);
        malformed.set(gateway, []);
        listeners.push(
          await router.listen(gateway, {
            frame: (frame) => {
              got.get(gateway)?.push(frame);
              order.get(gateway)?.push(`g${frame.g}`);
            },
            ephemeral: (frame) => {
              ephemeral.get(gateway)?.push(frame);
              order.get(gateway)?.push(`e:${frame.event}`);
            },
            malformed: (raw) => malformed.get(gateway)?.push(raw),
          }),
        );
      }
    },
    /** The gateway's frames once it has at least `n`. */
    async frames(gateway: string, n: number): Promise<Frame[]> {
      await until(() => (got.get(gateway)?.length ?? 0) >= n, `${n} frames for ${gateway} (got ${got.get(gateway)?.length})`);
      return got.get(gateway) as Frame[];
    },
    /** The gateway's ephemeral frames once it has at least `n`. */
    async ephemeral(gateway: string, n: number): Promise<EphemeralFrame[]> {
      await until(() => (ephemeral.get(gateway)?.length ?? 0) >= n, `${n} ephemeral frames for ${gateway} (got ${ephemeral.get(gateway)?.length})`);
      return ephemeral.get(gateway) as EphemeralFrame[];
    },
    order: (gateway: string) => order.get(gateway) ?? [],
    malformed: (gateway: string) => malformed.get(gateway) ?? [],
    close: () => Promise.all(listeners.map((l) => l.close())),
  };
}

export function routerContract(name: string, make: () => Promise<RouterUnderTest>): void {
  /** A fresh router and a receiver for it; both ended after `body`, whatever happens. */
  async function withRouter(body: (t: RouterUnderTest, rx: ReturnType<typeof receiver>) => Promise<void>) {
    const t = await make();
    const rx = receiver(t.router);
    try {
      await body(t, rx);
    } finally {
      await rx.close();
      await t.close();
    }
  }

  describe(`${name}: the Router contract`, () => {
    it('routes a message only to the gateways of its rooms, once each, numbering frames per gateway', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'b', 'c');
        await router.register('a', [rooms.global, rooms.user('u1')], LEASE_MS);
        await router.register('b', [rooms.global, rooms.user('u2')], LEASE_MS);
        await router.register('c', [rooms.global], LEASE_MS);
        expect(await router.init(1)).toBe(1);
        const first = contractMessage(1, [rooms.user('u1'), rooms.user('u2')]);
        expect(await router.route(first)).toBe('routed');
        expect(await router.route(contractMessage(2, [rooms.user('u1')]))).toBe('routed');
        expect(await router.route(contractMessage(3))).toBe('routed');
        const a = await rx.frames('a', 3);
        expect(seqs(a)).toEqual([1, 2, 3]);
        expect(a.map((f) => f.g)).toEqual([1, 2, 3]);
        // Each frame says where routing stood once it was routed: the next seq.
        expect(a.map((f) => f.next)).toEqual([2, 3, 4]);
        expect(a[0]).toEqual({ g: 1, next: 2, event: 'deliver', data: first });
        expect(seqs(await rx.frames('b', 2))).toEqual([1, 3]);
        expect((await rx.frames('b', 2)).map((f) => f.g)).toEqual([1, 2]);
        expect(seqs(await rx.frames('c', 1))).toEqual([3]);
        expect(await router.sync('c', LEASE_MS)).toEqual({ next: 4, g: 1, held: 0 });
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 4, g: 3, held: 0 });
      }));

    it('sends a message in several rooms of one gateway to it once', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a');
        await router.register('a', [rooms.user('u1'), rooms.user('u2')], LEASE_MS);
        await router.init(1);
        await router.route(contractMessage(1, [rooms.user('u1'), rooms.user('u2')]));
        await router.route(contractMessage(2, [rooms.user('u2')]));
        expect(seqs(await rx.frames('a', 2))).toEqual([1, 2]);
        expect((await router.sync('a', LEASE_MS))?.g).toBe(2);
      }));

    it('routes in log order whatever order the calls come in, and holds everything before it knows where to start', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a');
        await router.register('a', [rooms.global], LEASE_MS);
        // No start yet (a new deployment, or Redis lost its data): held.
        expect(await router.route(contractMessage(12))).toBe('held');
        expect(await router.route(contractMessage(10))).toBe('held');
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 0, g: 0, held: 2 });
        // A gateway read the log up to 10: 10 is dropped (it had it), 11 is awaited.
        expect(await router.init(11)).toBe(11);
        expect(await router.route(contractMessage(13))).toBe('held');
        expect((await router.sync('a', LEASE_MS))?.held).toBe(2);
        expect(await router.route(contractMessage(11))).toBe('routed');
        const frames = await rx.frames('a', 3);
        expect(seqs(frames)).toEqual([11, 12, 13]);
        expect(frames.map((f) => f.next)).toEqual([12, 13, 14]);
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 14, g: 3, held: 0 });
        // Late and repeated: nothing.
        expect(await router.route(contractMessage(12))).toBe('stale');
        expect(await router.route(contractMessage(10))).toBe('stale');
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 14, g: 3, held: 0 });
      }));

    it('puts concurrent routes of a page in order on the channel, frame numbers dense', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a');
        await router.register('a', [rooms.global], LEASE_MS);
        await router.init(1);
        const order = Array.from({ length: 40 }, (_, i) => i + 1).sort((x, y) => ((x * 7919) % 41) - ((y * 7919) % 41));
        let refused = order;
        for (let round = 0; refused.length > 0; round++) {
          if (round > 40) throw new Error(`still refused: ${refused.join(' ')}`);
          // Concurrent the first time; then, as the gateways' watchdog does, what a small hold cap refused, in log order.
          const outcomes = round === 0 ? await Promise.all(refused.map((seq) => router.route(contractMessage(seq)))) : [];
          for (const seq of round === 0 ? [] : refused) outcomes.push(await router.route(contractMessage(seq)));
          expect(outcomes.every((o) => o === 'routed' || o === 'held' || o === 'held_full')).toBe(true);
          refused = refused.filter((_, i) => outcomes[i] === 'held_full').sort((x, y) => x - y);
        }
        const frames = await rx.frames('a', 40);
        expect(seqs(frames)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        expect(frames.map((f) => f.g)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 41, g: 40, held: 0 });
      }));

    it('says where routing starts once: a later init returns the head it finds', () =>
      withRouter(async ({ router }) => {
        await router.register('a', [rooms.global], LEASE_MS);
        expect(await router.init(5)).toBe(5);
        expect(await router.init(9)).toBe(5);
        expect(await router.route(contractMessage(5))).toBe('routed');
        expect(await router.init(1)).toBe(6);
        expect((await router.sync('a', LEASE_MS))?.next).toBe(6);
      }));

    it('routes held messages that follow on from where init starts', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a');
        await router.register('a', [rooms.global], LEASE_MS);
        for (const seq of [3, 4, 6]) expect(await router.route(contractMessage(seq))).toBe('held');
        expect(await router.init(3)).toBe(5);
        expect(seqs(await rx.frames('a', 2))).toEqual([3, 4]);
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 5, g: 2, held: 1 });
      }));

    it('holds at most its cap, and answers held_full past it without holding the message', (ctx) =>
      withRouter(async ({ router, maxHeld }, rx) => {
        if (maxHeld === undefined || maxHeld > 200) return ctx.skip();
        await rx.listen('a');
        await router.register('a', [rooms.global], LEASE_MS);
        for (let seq = 2; seq <= maxHeld + 1; seq++) expect(await router.route(contractMessage(seq))).toBe('held');
        expect(await router.route(contractMessage(maxHeld + 2))).toBe('held_full');
        expect(await router.route(contractMessage(maxHeld + 3))).toBe('held_full');
        expect((await router.sync('a', LEASE_MS))?.held).toBe(maxHeld);
        // Routing starts at 1: 1 and the held ones go out; a refused one waits for a caller (the watchdog) to route it again.
        expect(await router.init(1)).toBe(1);
        expect(await router.route(contractMessage(1))).toBe('routed');
        expect(seqs(await rx.frames('a', maxHeld + 1))).toEqual(Array.from({ length: maxHeld + 1 }, (_, i) => i + 1));
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: maxHeld + 2, g: maxHeld + 1, held: 0 });
        expect(await router.route(contractMessage(maxHeld + 2))).toBe('routed');
        expect((await router.sync('a', LEASE_MS))?.next).toBe(maxHeld + 3);
      }));

    it('routes a control event to the gateways of its room now, before and after routing starts, carrying the head as next', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'b');
        await router.register('a', [rooms.user('u1')], LEASE_MS);
        await router.register('b', [rooms.user('u2')], LEASE_MS);
        await router.control(rooms.user('u1'), 'token_revoked', { userId: 'u1', jti: 'j1' });
        expect(await rx.frames('a', 1)).toEqual([{ g: 1, next: 0, event: 'token_revoked', data: { userId: 'u1', jti: 'j1' } }]);
        await router.init(7);
        await router.route(contractMessage(7, [rooms.user('u2')]));
        await router.control(rooms.user('u1'), 'user_tokens_revoked', { userId: 'u1', issuedNotAfter: 42 });
        expect((await rx.frames('a', 2))[1]).toEqual({ g: 2, next: 8, event: 'user_tokens_revoked', data: { userId: 'u1', issuedNotAfter: 42 } });
        // A control event moves no head and no other gateway's count.
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 8, g: 2, held: 0 });
        expect(await router.sync('b', LEASE_MS)).toEqual({ next: 8, g: 1, held: 0 });
        // A room nobody is registered for: nothing, anywhere.
        await router.control(rooms.user('nobody'), 'token_revoked', { userId: 'nobody', jti: 'j2' });
        expect((await router.sync('a', LEASE_MS))?.g).toBe(2);
      }));

    it('sends an ephemeral event to the gateways of any of its rooms now, once each, naming only their rooms, without a number', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'b', 'c', 'gone');
        await router.register('a', [rooms.global, rooms.room('r1'), rooms.user('u1')], LEASE_MS);
        await router.register('b', [rooms.global, rooms.user('u2')], LEASE_MS);
        await router.register('c', [rooms.global], LEASE_MS);
        await router.register('gone', [rooms.room('r1')], 50);
        await new Promise((resolve) => setTimeout(resolve, 150));
        // Before routing starts too: an ephemeral event is never held.
        const change = { user_id: 'u9', username: 'nine', status: 'online' as const };
        const audience = [rooms.room('r1'), rooms.user('u1'), rooms.user('u2'), rooms.user('nobody'), rooms.room('r1')];
        expect(await router.ephemeral(audience, 'presence', change)).toBe(2);
        expect(await rx.ephemeral('a', 1)).toEqual([{ rooms: [rooms.room('r1'), rooms.user('u1')], event: 'presence', data: change }]);
        expect(await rx.ephemeral('b', 1)).toEqual([{ rooms: [rooms.user('u2')], event: 'presence', data: change }]);
        // Not numbered: no count moves, so no gateway's loss check sees it.
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 0, g: 0, held: 0 });
        expect(await router.sync('b', LEASE_MS)).toEqual({ next: 0, g: 0, held: 0 });
        // Numbered frames go on from 1, and both kinds keep their channel order.
        await router.init(1);
        await router.route(contractMessage(1, [rooms.room('r1')]));
        await router.ephemeral([rooms.room('r1')], 'presence', { ...change, status: 'offline' });
        await router.route(contractMessage(2, [rooms.room('r1')]));
        expect((await rx.frames('a', 2)).map((f) => f.g)).toEqual([1, 2]);
        await rx.ephemeral('a', 2);
        expect(rx.order('a')).toEqual(['e:presence', 'g1', 'e:presence', 'g2']);
        // A gateway whose lease ran out got nothing and was dropped from the room.
        expect(rx.order('gone')).toEqual([]);
        expect(rx.order('c')).toEqual([]);
        // Nobody registered for any of the rooms: nothing, anywhere.
        expect(await router.ephemeral([rooms.user('nobody')], 'presence', change)).toBe(0);
      }));

    it(`sends an audience of more than ${EPHEMERAL_ROOMS_PER_CALL} rooms in parts, each part once per gateway`, () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'b');
        const many = Array.from({ length: EPHEMERAL_ROOMS_PER_CALL + 10 }, (_, i) => rooms.user(`u${i}`));
        await router.register('a', [many[0] as string, many[1] as string, many.at(-1) as string], LEASE_MS);
        await router.register('b', [many[2] as string], LEASE_MS);
        const change = { user_id: 'u', username: 'many', status: 'online' as const };
        expect(await router.ephemeral(many, 'presence', change)).toBe(3);
        const frames = await rx.ephemeral('a', 2);
        expect(frames.map((f) => f.rooms).sort()).toEqual([[many[0], many[1]], [many.at(-1)]].sort());
        expect((await rx.ephemeral('b', 1)).map((f) => f.rooms)).toEqual([[many[2]]]);
      }));

    it("adds the room for the user's gateways in the same step as routing the join, and keeps it against an unregister decided before", () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'b');
        await router.register('a', [rooms.user('u1')], LEASE_MS);
        await router.register('b', [rooms.user('u2')], LEASE_MS);
        await router.init(1);
        await router.control(rooms.user('u1'), 'membership', { action: 'join', userId: 'u1', roomId: 'r1', logHead: 0 }, rooms.room('r1'));
        const [join] = await rx.frames('a', 1);
        expect(join).toMatchObject({ g: 1, next: 1, event: 'membership' });
        // Decided before the gateway saw frame 1: the room stays.
        await router.unregister('a', [rooms.room('r1')], 0);
        expect(await router.route(contractMessage(1, [rooms.room('r1')]))).toBe('routed');
        expect((await rx.frames('a', 2))[1]).toMatchObject({ g: 2, event: 'deliver' });
        // Only the gateways the join reached got the room.
        expect((await router.sync('b', LEASE_MS))?.g).toBe(0);
        // Decided after: it goes.
        await router.unregister('a', [rooms.room('r1')], 2);
        await router.route(contractMessage(2, [rooms.room('r1')]));
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 3, g: 2, held: 0 });
        // A later join adds it again, and an unregister that saw that frame removes it.
        await router.control(rooms.user('u1'), 'membership', { action: 'join', userId: 'u1', roomId: 'r1', logHead: 2 }, rooms.room('r1'));
        await rx.frames('a', 3);
        await router.unregister('a', [rooms.room('r1')], 3);
        await router.route(contractMessage(3, [rooms.room('r1')]));
        expect((await router.sync('a', LEASE_MS))?.g).toBe(3);
      }));

    it('unregisters only the rooms named, and nothing for an empty list', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a');
        await router.register('a', [rooms.global, rooms.user('u1'), rooms.room('r1')], LEASE_MS);
        await router.init(1);
        await router.unregister('a', [], 0);
        await router.unregister('a', [rooms.user('u1'), rooms.room('never')], 0);
        await router.route(contractMessage(1, [rooms.user('u1')]));
        await router.route(contractMessage(2, [rooms.room('r1')]));
        await router.route(contractMessage(3));
        expect(seqs(await rx.frames('a', 2))).toEqual([2, 3]);
        expect(await router.sync('a', LEASE_MS)).toEqual({ next: 4, g: 2, held: 0 });
      }));

    it('registers a gateway fresh once, keeps its count and adds rooms on later registrations', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a');
        expect(await router.register('a', [rooms.user('u1')], LEASE_MS)).toEqual({ next: 0, g: 0, held: 0, fresh: true });
        await router.route(contractMessage(2, [rooms.user('u1')]));
        expect(await router.register('a', [], LEASE_MS)).toEqual({ next: 0, g: 0, held: 1, fresh: false });
        await router.init(1);
        await router.route(contractMessage(1, [rooms.user('u1')]));
        await rx.frames('a', 2);
        expect(await router.register('a', [rooms.user('u2')], LEASE_MS)).toEqual({ next: 3, g: 2, held: 0, fresh: false });
        await router.route(contractMessage(3, [rooms.user('u2')]));
        expect(seqs(await rx.frames('a', 3))).toEqual([1, 2, 3]);
      }));

    it('stops routing to a gateway whose lease ran out, says so when it syncs, and registers it fresh again', () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'gone');
        await router.register('a', [rooms.global], LEASE_MS);
        await router.register('gone', [rooms.global], 50);
        await router.init(1);
        await new Promise((resolve) => setTimeout(resolve, 150));
        await router.route(contractMessage(1));
        await rx.frames('a', 1);
        expect(await router.sync('gone', LEASE_MS)).toBeUndefined();
        expect(await router.register('gone', [rooms.user('g')], LEASE_MS)).toEqual({ next: 2, g: 0, held: 0, fresh: true });
        // The message routed while it was gone dropped it from global: it gets global again by registering it.
        await router.route(contractMessage(2));
        expect(await router.sync('gone', LEASE_MS)).toEqual({ next: 3, g: 0, held: 0 });
      }));

    it('renews the lease on sync', () =>
      withRouter(async ({ router }) => {
        await router.register('a', [rooms.global], 600);
        for (let i = 0; i < 4; i++) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          expect(await router.sync('a', 600)).toEqual({ next: 0, g: 0, held: 0 });
        }
      }));

    it('knows nothing of a gateway that never registered', () =>
      withRouter(async ({ router }) => {
        expect(await router.sync('stranger', LEASE_MS)).toBeUndefined();
        await router.init(1);
        expect(await router.sync('stranger', LEASE_MS)).toBeUndefined();
      }));

    it("hands each listener its own gateway's frames in order; a closed listener gets no more, renewing changes nothing", () =>
      withRouter(async ({ router }, rx) => {
        await rx.listen('a', 'b');
        await router.register('a', [rooms.global], LEASE_MS);
        await router.register('b', [rooms.user('u2')], LEASE_MS);
        await router.init(1);
        const early: Frame[] = [];
        const closing = await router.listen('a', { frame: (frame) => early.push(frame) });
        await router.route(contractMessage(1));
        await router.route(contractMessage(2, [rooms.user('u2')]));
        await rx.frames('a', 1);
        await rx.frames('b', 1);
        await until(() => early.length >= 1, "the first listener's frame");
        expect(seqs(early)).toEqual([1]);
        await closing.close();
        const renewed: Frame[] = [];
        const renewing = await router.listen('a', { frame: (frame) => renewed.push(frame) });
        await renewing.renew();
        await renewing.renew();
        await router.route(contractMessage(3));
        await router.route(contractMessage(4));
        expect(seqs(await rx.frames('a', 3))).toEqual([1, 3, 4]);
        expect(seqs(await rx.frames('b', 1))).toEqual([2]);
        // The renewed listener got each frame once, and the closed one none (nor did closing it stop the other listener of 'a').
        await until(() => renewed.length >= 2, "the renewed listener's frames");
        expect(seqs(renewed)).toEqual([3, 4]);
        expect(seqs(early)).toEqual([1]);
        await renewing.close();
      }));

    it('hands a frame that does not parse to onMalformed, and goes on with the next', (ctx) =>
      withRouter(async (t, rx) => {
        const { router } = t;
        if (!t.sendRaw) return ctx.skip();
        await rx.listen('a');
        await router.register('a', [rooms.global], LEASE_MS);
        await router.init(1);
        await router.route(contractMessage(1));
        await rx.frames('a', 1);
        const bad = ['not a frame', '1|2|not json', '2|3|{"data":1}', 'e|room:x|not json', 'e||{"event":"presence","data":{}}', 'e|room:x'];
        for (const raw of bad) await t.sendRaw('a', raw);
        await router.route(contractMessage(2));
        expect(seqs(await rx.frames('a', 2))).toEqual([1, 2]);
        await until(() => rx.malformed('a').length >= bad.length, 'the malformed frames');
        expect([...rx.malformed('a')].sort()).toEqual([...bad].sort());
      }));
  });
}
