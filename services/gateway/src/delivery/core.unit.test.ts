import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryRouter, rooms } from '@chat/shared/events';
import { createMemoryLog, startCore, type MemoryRouter } from './testing.ts';

// The gateway's delivery core (registrations, frame intake, recovery, upkeep,
// the ordered stream, dispatch) against the in-memory router and log: every
// way Redis can fail it, in milliseconds.

const R1 = rooms.room('r1');
const cores: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.stop();
});

function bench(router: MemoryRouter = createMemoryRouter()) {
  const log = createMemoryLog();
  const start = async (id = 'gw-1') => {
    const gateway = await startCore(router, log, id);
    cores.push(gateway);
    return gateway;
  };
  /** Commits a message and routes it, as the API does after the commit. */
  const send = async (to: string[], content: string) => router.route(log.commit(to, content));
  return { router, log, start, send };
}

describe("the gateway's delivery core", () => {
  it('delivers to the connections of each room, in log order and once, whatever order routing was called in', async () => {
    const { router, log, start } = bench();
    const gw = await start();
    const inRoom = await gw.connect('u1', [R1]);
    const everyone = await gw.connect('u2', [rooms.global]);
    const [d1, d2, d3] = [log.commit([R1], '1'), log.commit([rooms.global], '2'), log.commit([R1], '3')];
    expect(await router.route(d3)).toBe('held');
    expect(await router.route(d1)).toBe('routed');
    expect(await router.route(d2)).toBe('routed');
    expect(await router.route(d3)).toBe('stale');
    await expect.poll(() => inRoom.contents).toEqual(['1', '3']);
    expect(everyone.contents).toEqual(['2']);
  });

  it('reads a lost frame from the log when the next frame shows the gap, before applying that frame', async () => {
    const { router, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    router.dropFrames('gw-1', 1);
    await send([R1], 'lost on the way');
    await send([R1], 'shows the gap');
    await expect.poll(() => conn.contents).toEqual(['lost on the way', 'shows the gap']);
    expect((await gw.metrics.lostFrames.get()).values[0]?.value).toBe(1);
  });

  it('notices a lost last frame at the next sync (after the gap wait) and reads it from the log', async () => {
    const { router, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    router.dropFrames('gw-1', 1);
    await send([R1], 'nothing follows it');
    await expect.poll(() => conn.contents).toEqual(['nothing follows it']);
  });

  it('registers its rooms again after the router forgot it, and reads from the log what was routed meanwhile', async () => {
    const { router, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    router.forget('gw-1');
    await send([R1], 'routed to nobody');
    await expect.poll(() => router.gatewaysOf(R1)).toEqual(['gw-1']);
    await send([R1], 'routed here again');
    await expect.poll(() => conn.contents).toEqual(['routed to nobody', 'routed here again']);
  });

  it("gives a new member the room's messages committed before the join reached its gateway, then live ones, none twice", async () => {
    const { router, log, start, send } = bench();
    const [gw1, gw2] = [await start('gw-1'), await start('gw-2')];
    const joiner = await gw1.connect('u1', []);
    const member = await gw2.connect('u2', [R1]);
    const logHead = await log.feed.head();
    await send([R1], 'before the join reached gw-1');
    await router.control(rooms.user('u1'), 'membership', { action: 'join', userId: 'u1', roomId: 'r1', logHead }, R1);
    await expect.poll(() => gw1.local.isIn(joiner, R1)).toBe(true);
    await send([R1], 'after the join');
    await expect.poll(() => joiner.contents).toEqual(['before the join reached gw-1', 'after the join']);
    expect(member.contents).toEqual(['before the join reached gw-1', 'after the join']);
  });

  it('takes a room away at once when a membership ends', async () => {
    const { router, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    await send([R1], 'while a member');
    await router.control(rooms.user('u1'), 'membership', { action: 'leave', userId: 'u1', roomId: 'r1' });
    await expect.poll(() => gw.local.isIn(conn, R1)).toBe(false);
    await send([R1], 'after leaving');
    await send([rooms.user('u1')], 'to the user');
    await expect.poll(() => conn.contents).toEqual(['while a member', 'to the user']);
  });

  it('routes from the log a message whose publisher died between numbering and routing (the watchdog)', async () => {
    const { log, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    log.commit([R1], 'never routed by its publisher');
    expect(await send([R1], 'held behind it')).toBe('held');
    await expect.poll(() => conn.contents).toEqual(['never routed by its publisher', 'held behind it']);
  });

  it('keeps delivering from the log while the router is away, and sends nothing twice when it is back', async () => {
    const { router, log, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    router.outage = true;
    const during = log.commit([R1], 'during the outage');
    await expect(router.route(during)).rejects.toThrow(/away/);
    await expect.poll(() => conn.contents).toEqual(['during the outage']);
    router.outage = false;
    await send([R1], 'after the outage');
    await expect.poll(() => conn.contents).toEqual(['during the outage', 'after the outage']);
  });

  it('stops being routed the rooms no connection needs any more', async () => {
    const { router, start } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    expect(router.gatewaysOf(R1)).toEqual(['gw-1']);
    gw.local.leaveAll(conn);
    conn.markClosed();
    await expect.poll(() => router.gatewaysOf(R1)).toEqual([]);
  });

  it('lets a resume wait until the stream has reached its cursor: from where routing stands, else from the log', async () => {
    const { log, start } = bench();
    const gw = await start();
    await gw.connect('u1', [R1]);
    const unrouted = log.commit([R1], 'numbered, not routed yet');
    await gw.core.reach(unrouted.seq);
    expect(gw.core.watermark).toBe(unrouted.seq);
  });

  it('hands an ephemeral event to the outbox for the local connections in its rooms only, outside the numbered stream', async () => {
    const { router, start, send } = bench();
    const gw = await start();
    const inRoom = await gw.connect('u1', [R1]);
    const partner = await gw.connect('u2', []);
    const elsewhere = await gw.connect('u3', [rooms.room('r2')]);
    const change = { user_id: 'u9', username: 'nine', status: 'online' as const };
    expect(await router.ephemeral([R1, rooms.user('u2'), rooms.user('nobody')], 'presence', change)).toBe(1);
    await expect.poll(() => gw.outbox.waiting).toBe(2);
    gw.outbox.flush();
    const presence = (conn: typeof inRoom) => conn.events.filter((e) => e.event === 'presence').map((e) => e.data);
    expect(presence(inRoom)).toEqual([change]);
    expect(presence(partner)).toEqual([change]);
    expect(presence(elsewhere)).toEqual([]);
    // No number: the next message is no gap, and nothing is read from the log.
    await send([R1], 'after it');
    await expect.poll(() => inRoom.contents).toEqual(['after it']);
    expect((await gw.metrics.lostFrames.get()).values[0]?.value ?? 0).toBe(0);
  });

  it('drops an ephemeral event it does not know or whose payload does not match its schema', async () => {
    const { router, start, send } = bench();
    const gw = await start();
    const conn = await gw.connect('u1', [R1]);
    await router.sendRaw('gw-1', `e|${R1}|${JSON.stringify({ event: 'presence', data: { user_id: 'u9', status: 'away' } })}`);
    await router.sendRaw('gw-1', `e|${R1}|${JSON.stringify({ event: 'typing', data: {} })}`);
    await send([R1], 'a barrier');
    await expect.poll(() => conn.contents).toEqual(['a barrier']);
    expect(gw.outbox.waiting).toBe(0);
  });
});
