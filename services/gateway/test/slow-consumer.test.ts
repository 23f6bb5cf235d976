import { createConnection, type NetConnectOpts, type Socket as NetSocket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createChatCore } from '@chat/shared/core';
import { createLogger } from '@chat/shared/logger';
import type { Actor } from '@chat/shared/model';
import { Inbox } from '@chat/shared/testing';
import { createRoom, createUser, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, startGateway, type IoClient, type TestGateway, type WsClient } from './harness.ts';

/*
 * Slow consumers of both kinds. Clients that stop reading (their TCP socket is
 * paused, so the kernel stops taking data off the wire) sit next to one healthy
 * reader of each kind while a steady flow of room messages runs. Each paused
 * client must be cut off, at once (terminated, not a close handshake it would
 * never answer), soon after the gateway holds more than the cap unsent for it;
 * the healthy readers must get every message, in order, without their latency
 * moving.
 *
 * The paused clients are raw `ws` clients whose net.Socket we create ourselves
 * (the documented `createConnection` option), so pausing it is a plain
 * `socket.pause()`. The Socket.IO ones speak Engine.IO v4 / Socket.IO v5 framing
 * by hand: one opens on the websocket transport directly, one starts on polling
 * and upgrades, as a browser does.
 *
 * Before the gateway buffers anything itself, the kernel takes what fits in
 * the socket's send buffer (autotuned up to net.ipv4.tcp_wmem's maximum, 4 MiB
 * on a stock Linux). The 1 KB steady flow alone would need some 20 s to get
 * through that, so a room only the paused users share also gets a large
 * message every few ticks. Both flows run from the start, so the baseline and
 * the paused phase carry the same traffic and differ only in the pause.
 *
 * One sequential sender manages about 100 messages a second here (each send is
 * a transaction, in the same process as everything else), so the steady flow
 * goes out over a few lanes, each sequential: per lane the order is fixed, and
 * that order is what the healthy readers must see.
 */

const CAP = 256 * 1024;
const TICK_MS = 5; // 200 steady messages a second
const LANES = 16;
const STEADY_BYTES = 1024;
const FILLER_BYTES = 60_000;
const FILLER_EVERY = 5; // ticks: up to 40 fillers a second, skipped while the previous one is still being sent
const BASELINE_TICKS = 400;
/** The first ticks warm everything up and are left out of the baseline latency. */
const WARMUP_TICKS = 100;
const TAIL_TICKS = 200;
/** The paused phase ends once every paused client is cut, or after this long. */
const MAX_PAUSED_MS = 45_000;
/** The ws close timeout a handshake close would wait out before giving up on the peer. */
const WS_CLOSE_TIMEOUT_MS = 30_000;

let api: TestApi;
let gw: TestGateway;

beforeAll(async () => {
  api = await startApi();
  gw = await startGateway(api.config.redis.prefix, { WEBSOCKET_MAX_BUFFERED_BYTES: String(CAP), LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await gw.close();
  await api.close();
});

type LogEntry = { msg?: string; userId?: string; time: number; [key: string]: unknown };

/** The gateway's log, parsed as it grows. */
function logReader(target: TestGateway) {
  let seen = 0;
  const entries: LogEntry[] = [];
  return {
    entries() {
      for (; seen < target.logs.length; seen++) {
        for (const line of target.logs[seen]?.split('\n') ?? []) if (line) entries.push(JSON.parse(line) as LogEntry);
      }
      return entries;
    },
    find(msg: string, userId: string) {
      return this.entries().find((e) => e.msg === msg && e.userId === userId);
    },
  };
}

/**
 * A client that reads only until told to stop: a `ws` client on a TCP socket
 * the test holds. It counts chat messages without keeping them (they would
 * inflate the memory this test measures) and keeps every other frame.
 */
class RawClient {
  readonly label: string;
  readonly user: TestUser;
  readonly ws: WebSocket;
  readonly frames = new Inbox<string>();
  readonly closed: Promise<{ code: number; at: number }>;
  received = 0;
  receivedAtPause = 0;
  pausedAt = 0;
  private tcp: NetSocket | undefined;
  private paused = false;

  constructor(label: string, user: TestUser, url: string, isChatMessage: (text: string) => boolean) {
    this.label = label;
    this.user = user;
    const capture = (options: NetConnectOpts, listener?: () => void) => {
      const tcp = createConnection(options, listener);
      // The ws client pauses and resumes its socket for its own flow control; a pause of ours holds.
      const resume = tcp.resume.bind(tcp);
      tcp.resume = () => (this.paused ? tcp : resume());
      this.tcp = tcp;
      return tcp;
    };
    this.ws = new WebSocket(url, { createConnection: capture as typeof createConnection });
    this.ws.on('error', () => {}); // a reset after the cut is expected; `closed` reports it
    this.closed = new Promise((resolve) => this.ws.on('close', (code) => resolve({ code, at: Date.now() })));
    this.ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (isChatMessage(text)) this.received++;
      else this.onFrame(text);
    });
  }

  protected onFrame(text: string) {
    this.frames.push(text);
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`${this.label}: handshake refused with ${res.statusCode}`)));
    });
  }

  /** Stops reading: the kernel's receive buffer fills, then the gateway's send side backs up. */
  pause() {
    this.paused = true;
    this.receivedAtPause = this.received;
    this.pausedAt = Date.now();
    this.tcp?.pause();
  }

  /** Reads again, to see how the gateway ended the connection. */
  resume() {
    this.paused = false;
    this.tcp?.resume();
  }
}

/** Speaks Socket.IO on top of the raw client: answers Engine.IO pings while it still reads. */
class RawIoClient extends RawClient {
  constructor(label: string, user: TestUser, url: string) {
    super(label, user, url, (text) => text.startsWith('42["message"'));
  }

  protected override onFrame(text: string) {
    if (text === '2') return this.ws.send('3');
    super.onFrame(text);
  }

  /** Socket.IO CONNECT to the main namespace with the token, answered by `40{"sid":…}`. */
  async join(token: string) {
    this.ws.send(`40${JSON.stringify({ token })}`);
    const answer = await this.frames.next((f) => f.startsWith('40') || f.startsWith('44'), `${this.label}: the namespace connect`);
    expect(answer.startsWith('40'), answer).toBe(true);
  }
}

const wsBase = () => gw.url.replace('http', 'ws');

async function pausedPlain(user: TestUser): Promise<RawClient> {
  const client = new RawClient('plain ws', user, `${wsBase()}/api/ws/connect?token=${user.token}`, (text) => text.startsWith('{"type":"message"'));
  await client.opened();
  await client.frames.next((f) => f.includes('"type":"connection"'), 'the connection frame');
  return client;
}

async function pausedIoWebsocket(user: TestUser): Promise<RawClient> {
  const client = new RawIoClient('socket.io websocket', user, `${wsBase()}/socket.io/?EIO=4&transport=websocket`);
  await client.opened();
  await client.frames.next((f) => f.startsWith('0{'), 'the Engine.IO open packet');
  await client.join(user.token);
  return client;
}

/** Starts on long-polling and upgrades to websocket, the way engine.io-client does by default. */
async function pausedIoUpgraded(user: TestUser): Promise<RawClient> {
  const polling = `${gw.url}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(polling)).text();
  expect(open.startsWith('0{'), open).toBe(true);
  const { sid, upgrades } = JSON.parse(open.slice(1)) as { sid: string; upgrades: string[] };
  expect(upgrades).toContain('websocket');
  const posted = await fetch(`${polling}&sid=${sid}`, { method: 'POST', body: `40${JSON.stringify({ token: user.token })}` });
  expect(await posted.text()).toBe('ok');
  const polled = await (await fetch(`${polling}&sid=${sid}`)).text();
  expect(polled.split('\x1e')[0]?.startsWith('40'), polled).toBe(true);

  const client = new RawIoClient('socket.io upgraded', user, `${wsBase()}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  await client.opened();
  client.ws.send('2probe');
  await client.frames.next((f) => f === '3probe', 'the probe answer');
  client.ws.send('5'); // upgrade: from here the session's packets travel over this websocket
  return client;
}

interface Arrival {
  i: number;
  at: number;
}

const steadyIndex = (content: unknown) => (typeof content === 'string' && content.startsWith('steady ') ? Number(content.split(' ')[1]) : undefined);

function percentile(sorted: number[], p: number) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function latencyStats(arrivals: Arrival[], sentAt: number[], from: number, to: number) {
  const latencies = arrivals
    .filter((a) => a.i >= from && a.i < to)
    .map((a) => a.at - (sentAt[a.i] ?? NaN))
    .sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return { n: latencies.length, p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? NaN) };
}

const MB = 1024 * 1024;
const toMb = (n: number) => Math.round((n / MB) * 10) / 10;

/**
 * Live memory of this process (the gateway's, and the rest of the test's),
 * collected first so that garbage does not count: the JS heap (Engine.IO's
 * queued packets) and Buffers (what ws and net.Socket hold unsent).
 */
function liveMemory() {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers, total: m.heapUsed + m.arrayBuffers };
}

describe('a client that stops reading', () => {
  it('is cut off at once past WEBSOCKET_MAX_BUFFERED_BYTES, of either kind, while healthy readers keep up', { timeout: 120_000 }, async () => {
    const [writer, healthyWsUser, healthyIoUser, plainUser, ioUser, upgradedUser] = await Promise.all([
      createUser(api),
      createUser(api),
      createUser(api),
      createUser(api),
      createUser(api),
      createUser(api),
    ]);
    const everyone = await createRoom(api, writer, 'steady');
    const slowOnly = await createRoom(api, writer, 'filler');
    const paused = [plainUser, ioUser, upgradedUser];
    for (const user of [healthyWsUser, healthyIoUser, ...paused]) {
      const res = await api.fetch(`/api/rooms/${everyone.id}/members/${user.id}`, { method: 'POST', token: writer.token });
      expect(res.status).toBe(201);
    }
    for (const user of paused) {
      const res = await api.fetch(`/api/rooms/${slowOnly.id}/members/${user.id}`, { method: 'POST', token: writer.token });
      expect(res.status).toBe(201);
    }

    // The write path in-process, as the API would call it, with room for the large fillers.
    const core = createChatCore(
      { ...api.config, chat: { ...api.config.chat, maxMessageLength: FILLER_BYTES } },
      api.resources,
      createLogger({ level: 'silent', service: 'test' }),
    );
    const actor: Actor = { id: writer.id, username: writer.username };

    // Healthy readers, one of each kind, timing every steady message they get.
    const healthyWs: WsClient = await connectWs(gw, healthyWsUser.token);
    const healthyIo: IoClient = await connectIo(gw, healthyIoUser.token);
    const arrivals: Record<'ws' | 'io', Arrival[]> = { ws: [], io: [] };
    healthyWs.ws.on('message', (data: Buffer) => {
      const at = performance.now();
      const frame = JSON.parse(data.toString('utf8')) as { type: string; message?: { content?: unknown; room_id?: unknown } };
      const i = frame.type === 'message' && frame.message?.room_id === everyone.id ? steadyIndex(frame.message.content) : undefined;
      if (i !== undefined) arrivals.ws.push({ i, at });
    });
    healthyIo.socket.on('message', (message: { content?: unknown; room_id?: unknown }) => {
      const at = performance.now();
      const i = message.room_id === everyone.id ? steadyIndex(message.content) : undefined;
      if (i !== undefined) arrivals.io.push({ i, at });
    });

    const clients = [await pausedPlain(plainUser), await pausedIoWebsocket(ioUser), await pausedIoUpgraded(upgradedUser)];
    expect(gw.gateway.io.engine.clientsCount).toBe(3);
    const logs = logReader(gw);

    // Memory of this process, which is the gateway's (and everything else in the test).
    const samples: Array<{ phase: string; heap: number; buffers: number; rss: number }> = [];
    let phase = 'baseline';
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      samples.push({ phase, heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss });
    }, 50);

    // Tick i sends steady message i on lane i % LANES, each lane one message after
    // another; a lane still busy holds the pacer back, so at most LANES are in flight.
    const sentAt: number[] = [];
    const steadyPad = 'x'.repeat(STEADY_BYTES);
    const filler = 'f'.repeat(FILLER_BYTES);
    const lanes: Array<Promise<unknown>> = Array.from({ length: LANES }, () => Promise.resolve());
    let fillerInFlight: Promise<unknown> | undefined;
    let fillers = 0;
    let tick = 0;
    let flowTime = 0;
    async function flow(ticks: number, stop: () => boolean = () => false) {
      const start = performance.now();
      for (let n = 0; n < ticks && !stop(); n++, tick++) {
        const wait = start + n * TICK_MS - performance.now();
        if (wait > 0) await sleep(wait); // pacing the sender, not waiting for an outcome
        const i = tick;
        await lanes[i % LANES];
        sentAt[i] = performance.now();
        lanes[i % LANES] = core.messages.send(actor, { room_id: everyone.id, content: `steady ${i} ${steadyPad}`.slice(0, STEADY_BYTES) });
        if (i % FILLER_EVERY === 0 && fillerInFlight === undefined) {
          fillers++;
          fillerInFlight = core.messages.send(actor, { room_id: slowOnly.id, content: filler }).finally(() => (fillerInFlight = undefined));
        }
      }
      await Promise.all([...lanes, fillerInFlight]);
      flowTime += performance.now() - start;
    }

    await flow(BASELINE_TICKS);
    const baselineEnd = tick;
    for (const client of clients) expect(client.received, `${client.label} read before the pause`).toBeGreaterThan(0);
    const liveBeforePause = liveMemory();

    phase = 'paused';
    for (const client of clients) client.pause();
    const cut = () => clients.every((c) => logs.find('cut off a client too slow to read', c.user.id));
    const deadline = Date.now() + MAX_PAUSED_MS;
    await flow(Number.POSITIVE_INFINITY, () => cut() || Date.now() > deadline);
    const pausedEnd = tick;
    expect(cut(), 'every paused client was cut off within the paused phase').toBe(true);

    phase = 'after';
    await flow(TAIL_TICKS);
    const total = tick;

    // Hard: each healthy reader got every steady message once, each lane's in the
    // order it was sent, and both in the same order (the gateway's one stream).
    await expect.poll(() => Math.min(arrivals.ws.length, arrivals.io.length), { timeout: 10_000 }).toBeGreaterThanOrEqual(total);
    const order = { ws: arrivals.ws.map((a) => a.i), io: arrivals.io.map((a) => a.i) };
    for (const kind of ['ws', 'io'] as const) {
      expect(
        [...order[kind]].sort((a, b) => a - b),
        `${kind}: every steady message once`,
      ).toEqual(Array.from({ length: total }, (_, i) => i));
      for (let lane = 0; lane < LANES; lane++) {
        const sent = order[kind].filter((i) => i % LANES === lane);
        expect(sent, `${kind}: lane ${lane} in order`).toEqual([...sent].sort((a, b) => a - b));
      }
    }
    expect(order.io).toEqual(order.ws);
    clearInterval(sampler);

    // Each paused client: cut once its unsent data passed the cap, by terminating the connection.
    const report: Record<string, unknown> = {};
    for (const client of clients) {
      const cutLine = logs.find('cut off a client too slow to read', client.user.id);
      expect(cutLine, `${client.label}: cut line`).toBeDefined();
      const held = Number(cutLine?.buffered ?? cutLine?.unsent);
      // Checked at every delivery: the cap plus at most the one message that crossed it.
      expect(held, `${client.label}: bytes held at the cut`).toBeGreaterThan(CAP);
      expect(held, `${client.label}: bytes held at the cut`).toBeLessThanOrEqual(CAP + 2 * FILLER_BYTES);
      const gone = await vi.waitFor(
        () => {
          const line = logs.find('client disconnected', client.user.id);
          if (!line) throw new Error(`${client.label}: the gateway logged no "client disconnected"`);
          return line;
        },
        { timeout: 5_000 },
      );
      const cutToClosedMs = gone.time - (cutLine?.time ?? NaN);
      expect(cutToClosedMs, `${client.label}: from the cut to the server seeing the connection closed`).toBeLessThan(WS_CLOSE_TIMEOUT_MS / 10);
      expect(client.received - client.receivedAtPause, `${client.label}: read nothing while paused`).toBeLessThan(5);

      // Reading again shows how it ended: everything the kernels still held, then
      // the end of the stream without a close frame (1006), i.e. a terminate.
      const resumedAt = Date.now();
      const backlogBefore = client.received;
      client.resume();
      const { code, at } = await Promise.race([client.closed, sleep(10_000).then(() => ({ code: -1, at: Date.now() }))]);
      expect(code, `${client.label}: close code the client saw`).toBe(1006);
      report[client.label] = {
        pausedToCutMs: (cutLine?.time ?? NaN) - client.pausedAt,
        heldAtCut: held,
        serverCloseAfterCutMs: cutToClosedMs,
        serverDisconnect: gone?.reason ?? gone?.code,
        clientCloseCode: code,
        clientSawEndAfterResumeMs: at - resumedAt,
        readBeforePause: client.receivedAtPause,
        drainedAfterResume: client.received - backlogBefore,
      };
    }
    await expect.poll(() => gw.gateway.io.engine.clientsCount, { timeout: 5_000 }).toBe(1);
    // V8 frees the Buffers' memory in the background after a collection, so poll briefly.
    const liveAfterCut = await vi.waitFor(
      () => {
        const memory = liveMemory();
        expect(memory.total - liveBeforePause.total, 'memory still held after the cut').toBeLessThan(16 * MB);
        return memory;
      },
      { timeout: 5_000 },
    );

    // Socket.IO's reason says the transport died under it (its pending writes fail
    // with the socket), not that the session was closed around it ('forced close').
    for (const client of clients.slice(1)) {
      expect(['transport close', 'transport error'], client.label).toContain(logs.find('client disconnected', client.user.id)?.reason);
    }

    // Latency of the healthy readers before, during and after; memory of the process.
    const windows = {
      baseline: [WARMUP_TICKS, baselineEnd],
      paused: [baselineEnd, pausedEnd],
      after: [pausedEnd, total],
    } as const;
    const latency = Object.fromEntries(
      (['ws', 'io'] as const).map((kind) => [
        kind,
        Object.fromEntries(Object.entries(windows).map(([name, [from, to]]) => [name, latencyStats(arrivals[kind], sentAt, from, to)])),
      ]),
    ) as Record<'ws' | 'io', Record<keyof typeof windows, ReturnType<typeof latencyStats>>>;
    const inPhase = (name: string) => samples.filter((s) => s.phase === name);
    const peak = (name: string, value: (s: (typeof samples)[number]) => number) => Math.max(...inPhase(name).map(value));
    const peakGrowth = peak('paused', (s) => s.heap + s.buffers) - peak('baseline', (s) => s.heap + s.buffers);
    console.log(
      JSON.stringify(
        {
          cap: CAP,
          steady: { total, baselineEnd, pausedEnd, ratePerSecond: Math.round((total * 1000) / flowTime) },
          filler: { sent: fillers, bytesPerSecond: Math.round((fillers * FILLER_BYTES * 1000) / flowTime) },
          paused: report,
          latencyMs: latency,
          memoryMb: {
            peak: Object.fromEntries(
              ['baseline', 'paused', 'after'].map((name) => [
                name,
                { heap: toMb(peak(name, (s) => s.heap)), buffers: toMb(peak(name, (s) => s.buffers)), rss: toMb(peak(name, (s) => s.rss)) },
              ]),
            ),
            peakGrowth: toMb(peakGrowth),
            liveBeforePause: { heap: toMb(liveBeforePause.heap), buffers: toMb(liveBeforePause.buffers) },
            liveAfterCut: { heap: toMb(liveAfterCut.heap), buffers: toMb(liveAfterCut.buffers) },
          },
        },
        null,
        2,
      ),
    );

    for (const kind of ['ws', 'io'] as const) {
      // Loose: a healthy reader stuck behind a slow one would wait for seconds; a
      // busy event loop (on a busy machine, the baseline is slow too) does not.
      const { baseline, paused: during } = latency[kind];
      expect(during.p50, `${kind}: p50 while others are paused`).toBeLessThan(Math.max(500, 5 * baseline.p50));
      expect(during.p99, `${kind}: p99 while others are paused`).toBeLessThan(Math.max(2_000, 5 * baseline.p99));
    }
    // Generous: the three paused clients held to the cap come to about a megabyte;
    // garbage not yet collected is most of the peak's growth. (What is live after
    // the cuts was held to 16 MB over the baseline above.)
    expect(peakGrowth, 'peak heap + buffers growth while paused').toBeLessThan(128 * MB);

    healthyWs.ws.close();
    healthyIo.socket.close();
  });
});
