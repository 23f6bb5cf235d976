import { WebSocket } from 'ws';
import { metricSample } from '@chat/shared/testing';
import { mdTable, num } from '../format.ts';
import { spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';

// `targeting`: how many cluster events each gateway receives against how many
// reached its own connections, for direct, room and global traffic, with plain
// WebSocket users spread evenly over the gateways (targeted fan-out,
// docs/architecture.md#targeted-fan-out). Counts, not timings: one round.

const USERS_PER_GATEWAY = 20;
const ROOMS_PER_GATEWAY = 4;
/** Control frames (membership) a gateway may get besides its addressed events; presence is counted under its own event, not `deliver`. */
const CONTROL_ALLOWANCE = 5;

type Traffic = 'direct' | 'room' | 'global';
const TRAFFIC: Traffic[] = ['direct', 'room', 'global'];

interface Seat {
  user: BenchUser;
  gateway: number;
  ws: WebSocket;
  got: Set<string>;
}

export interface TargetingCount {
  traffic: Traffic;
  gateway: number;
  messages: number;
  received: number;
  delivered: number;
}

async function connect(user: BenchUser, port: number, gateway: number, i: number): Promise<Seat> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws/connect?token=${encodeURIComponent(user.token)}`, { localAddress: loopback(3000 + i) });
  const seat: Seat = { user, gateway, ws, got: new Set() };
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { message?: { content?: string } };
    if (frame.message?.content) seat.got.add(frame.message.content);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('error', reject);
  });
  return seat;
}

async function api(ctx: BenchContext, token: string, method: string, path: string, body?: unknown): Promise<{ id?: string }> {
  const res = await fetch(`${ctx.cluster.lbUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json().catch(() => ({}))) as { id?: string };
}

async function counts(ctx: BenchContext, gateways: number) {
  const out: Array<{ received: number; delivered: number }> = [];
  for (let n = 1; n <= gateways; n++) {
    const port = ctx.cluster.gatewayMetricsPort(n);
    if (port === undefined) throw new Error(`gateway-${n} has no metrics port`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    out.push({
      received: metricSample(text, 'chat_cluster_events_received_total', { event: 'deliver' }) ?? 0,
      delivered: metricSample(text, 'chat_cluster_events_delivered_total', { event: 'deliver' }) ?? 0,
    });
  }
  return out;
}

async function waitFor(seats: Seat[], expected: Map<Seat, string[]>) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const missing = seats.reduce((n, s) => n + (expected.get(s) ?? []).filter((c) => !s.got.has(c)).length, 0);
    if (missing === 0) return;
    if (Date.now() > deadline) throw new Error(`targeting: ${missing} deliveries never arrived`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function runTargeting(ctx: BenchContext): Promise<SectionResult> {
  const ports = ctx.cluster.gatewayPorts;
  const users = await createUsers(ctx.db.database.url, USERS_PER_GATEWAY * ports.length, 'tgt');
  const seats = await Promise.all(users.map((u, i) => connect(u, ports[i % ports.length] as number, i % ports.length, i)));
  const tag = Math.random().toString(36).slice(2, 8);
  const result: TargetingCount[] = [];
  try {
    // Rooms whose members all sit on one gateway.
    const rooms: Array<{ id: string; owner: Seat }> = [];
    for (let g = 0; g < ports.length; g++) {
      const local = seats.filter((s) => s.gateway === g);
      for (let r = 0; r < ROOMS_PER_GATEWAY; r++) {
        const owner = local[r] as Seat;
        const { id } = await api(ctx, owner.user.token, 'POST', '/api/rooms', { name: `tgt ${g}-${r}`, description: '' });
        for (const m of local.slice(r + 1, r + 4)) await api(ctx, owner.user.token, 'POST', `/api/rooms/${id}/members/${m.user.id}`);
        rooms.push({ id: id as string, owner });
      }
    }
    const plan: Record<Traffic, Array<{ from: Seat; body: Record<string, unknown>; to: Seat[] }>> = { direct: [], room: [], global: [] };
    // Seats alternate gateways: half of these go to a user on the sender's own gateway, half across.
    for (const [i, from] of seats.entries()) {
      const to = seats[(i * 6 + 2) % seats.length] as Seat;
      if (to !== from) plan.direct.push({ from, body: { recipient: to.user.username }, to: [from, to] });
    }
    for (const [i, room] of rooms.entries()) {
      const g = room.owner.gateway;
      const local = seats.filter((s) => s.gateway === g);
      const r = i % ROOMS_PER_GATEWAY;
      for (let k = 0; k < 10; k++)
        plan.room.push({ from: room.owner, body: { room_id: room.id }, to: [local[r] as Seat, ...local.slice(r + 1, r + 4)] });
    }
    for (let k = 0; k < 20; k++) plan.global.push({ from: seats[k % seats.length] as Seat, body: {}, to: seats });

    for (const traffic of TRAFFIC) {
      const before = await counts(ctx, ports.length);
      const expected = new Map<Seat, string[]>();
      for (const [i, send] of plan[traffic].entries()) {
        const content = `tgt ${tag} ${traffic} ${i}`;
        await api(ctx, send.from.user.token, 'POST', '/api/messages', { content, ...send.body });
        for (const s of send.to) expected.set(s, [...(expected.get(s) ?? []), content]);
      }
      await waitFor(seats, expected);
      const after = await counts(ctx, ports.length);
      for (let g = 0; g < ports.length; g++) {
        result.push({
          traffic,
          gateway: g + 1,
          messages: plan[traffic].length,
          received: (after[g]?.received ?? 0) - (before[g]?.received ?? 0),
          delivered: (after[g]?.delivered ?? 0) - (before[g]?.delivered ?? 0),
        });
      }
      ctx.say(
        `targeting ${traffic}: ${result
          .filter((c) => c.traffic === traffic)
          .map((c) => `gateway-${c.gateway} received ${c.received}, delivered ${c.delivered} of ${c.messages}`)
          .join('; ')}`,
      );
    }
  } finally {
    for (const s of seats) s.ws.close();
  }

  const rows: Row[] = result.flatMap((c) => [
    {
      figure: `targeting: ${c.traffic}, gateway-${c.gateway} events received / delivered to its connections (of ${num(c.messages)} sent)`,
      unit: '',
      project: spread([c.received / Math.max(1, c.delivered)]),
      target: `<= 1.5 (+${CONTROL_ALLOWANCE} events)`,
      met: c.received <= 1.5 * c.delivered + CONTROL_ALLOWANCE,
    },
  ]);
  const detail = mdTable(
    ['traffic', 'gateway', 'messages sent', 'events received', 'delivered to its connections', 'received without targeting'],
    result.map((c) => [c.traffic, `gateway-${c.gateway}`, num(c.messages), num(c.received), num(c.delivered), num(c.messages)]),
  );
  return { name: 'targeting', rows, detail, data: result };
}
