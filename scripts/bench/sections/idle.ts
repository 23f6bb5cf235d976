import { cpuBetween, cpuTable, sampleCpu, type CpuUse } from '../cpu.ts';
import { kib, mdTable, num } from '../format.ts';
import { cpuShare, rssBytes } from '../proc.ts';
import { sleep, spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, type BenchUser } from '../users.ts';
import { startWorker, type Worker } from '../worker.ts';

// `idle`: many idle connections of one kind on ONE server process (gateway 1,
// reached on its own port, or a bare ws / socket.io server): memory per
// connection, connect rate, idle CPU, and whether 15k survive a minute of heartbeats.

type Kind = 'ws' | 'sio';
type Target = 'gateway' | 'bare';

interface Step {
  connections: number;
  /** Opened during this step (the connect rate's numerator). */
  opened: number;
  connectPerSecond: number;
  failed: number;
  rssBytes: number;
  heapBytes: number;
  rssPerConn: number;
  heapPerConn: number;
  cpu: number;
  /** Every process's CPU while this step's connections were opened. */
  connectCpu: CpuUse;
}

interface IdleRun {
  kind: Kind;
  target: Target;
  round: number;
  empty: { rssBytes: number; heapBytes: number; cpu: number };
  steps: Step[];
  hold?: { seconds: number; connections: number; dropped: number };
}

/** What is measured: a process, its port, and how to read its heap. */
interface Server {
  pid: number;
  port: number;
  heap(): Promise<number>;
  stop(): Promise<void>;
}

async function gatewayHeap(port: number | undefined): Promise<number> {
  if (port === undefined) return Number.NaN;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(text);
  return m?.[1] ? Number(m[1]) : Number.NaN;
}

async function startServer(ctx: BenchContext, kind: Kind, target: Target): Promise<Server> {
  if (target === 'gateway') {
    // A fresh process per run: memory freed by the previous run would otherwise be reused and hide the cost.
    await ctx.cluster.restartGateway(1);
    const pid = ctx.cluster.gatewayPid(1);
    return {
      pid,
      port: ctx.cluster.gatewayPorts[0] as number,
      heap: () => gatewayHeap(ctx.cluster.gatewayMetricsPort(1)),
      stop: () => Promise.resolve(),
    };
  }
  const worker: Worker = await startWorker(new URL(`../baselines/idle-${kind}.ts`, import.meta.url).pathname);
  return { pid: worker.pid, port: Number(worker.hello.port), heap: () => worker.call<number>({ cmd: 'heap' }), stop: () => worker.stop() };
}

async function runOne(ctx: BenchContext, kind: Kind, target: Target, round: number, users: BenchUser[], runIndex: number): Promise<IdleRun> {
  const o = ctx.opts.idle;
  const server = await startServer(ctx, kind, target);
  const client = await startWorker(new URL('../clients/idle-client.ts', import.meta.url).pathname);
  const url =
    kind === 'sio'
      ? `http://127.0.0.1:${server.port}`
      : target === 'gateway'
        ? `ws://127.0.0.1:${server.port}/api/ws/connect?token={token}`
        : `ws://127.0.0.1:${server.port}/`;
  try {
    await sleep(Math.min(1_000, o.cpuWindowMs));
    const empty = { rssBytes: await rssBytes(server.pid), heapBytes: await server.heap(), cpu: await cpuShare(server.pid, o.cpuWindowMs) };
    const steps: Step[] = [];
    let hold: IdleRun['hold'];
    let previous = 0;
    for (const n of o.steps) {
      const cpuBefore = await sampleCpu();
      const opened = await client.call<{ opened: number; failed: number; ms: number; errors: string[] }>({
        cmd: 'open',
        kind,
        url,
        tokens: users.map((u) => u.token),
        total: n,
        concurrency: o.connectConcurrency,
        addressOffset: 20 + (runIndex % 8) * 20,
        greeting: kind === 'ws' && target === 'gateway',
      });
      const connectCpu = cpuBetween(cpuBefore, await sampleCpu());
      if (opened.failed > 0) ctx.say(`idle ${kind} ${target}: ${opened.failed} connections failed (${opened.errors.join('; ')})`);
      await sleep(Math.min(2_000, o.cpuWindowMs));
      const status = await client.call<{ open: number; dropped: number }>({ cmd: 'status' });
      const rss = await rssBytes(server.pid);
      const heap = await server.heap();
      const cpu = await cpuShare(server.pid, o.cpuWindowMs);
      const step: Step = {
        connections: status.open,
        opened: n - previous,
        connectPerSecond: (n - previous) / (opened.ms / 1000),
        failed: opened.failed,
        rssBytes: rss,
        heapBytes: heap,
        rssPerConn: (rss - empty.rssBytes) / status.open,
        heapPerConn: (heap - empty.heapBytes) / status.open,
        cpu,
        connectCpu,
      };
      steps.push(step);
      previous = n;
      ctx.say(
        `idle ${kind} ${target} round ${round}: ${step.connections} open, ${num(step.connectPerSecond)} conn/s, RSS/conn ${kib(step.rssPerConn)}, heap/conn ${kib(step.heapPerConn)}, CPU ${(cpu * 100).toFixed(1)}%`,
      );
    }
    if (target === 'gateway' && round === 1) {
      const before = await client.call<{ open: number; dropped: number }>({ cmd: 'status' });
      await sleep(o.holdMs);
      const after = await client.call<{ open: number; dropped: number }>({ cmd: 'status' });
      hold = { seconds: o.holdMs / 1000, connections: before.open, dropped: after.dropped - before.dropped };
      ctx.say(`idle ${kind} gateway: held ${hold.connections} for ${hold.seconds} s, dropped ${hold.dropped}`);
    }
    return { kind, target, round, empty, steps, ...(hold ? { hold } : {}) };
  } finally {
    await client.call({ cmd: 'close' }).catch(() => undefined);
    await client.stop();
    await server.stop();
  }
}

const TARGETS: Record<Kind, { rss: number; rate: number }> = { ws: { rss: 1.3, rate: 0.6 }, sio: { rss: 1.1, rate: 0.8 } };
const KIND_LABEL: Record<Kind, string> = { ws: 'plain WS', sio: 'Socket.IO' };

function idleRows(runs: IdleRun[], top: number): Row[] {
  const rows: Row[] = [];
  const last = (r: IdleRun) => r.steps.at(-1) as Step;
  const of = (kind: Kind, target: Target, f: (r: IdleRun) => number) => {
    const xs = runs.filter((r) => r.kind === kind && r.target === target && r.steps.length > 0);
    return xs.length > 0 ? spread(xs.map(f)) : undefined;
  };
  for (const kind of ['ws', 'sio'] as const) {
    const rss = { project: of(kind, 'gateway', (r) => last(r).rssPerConn), bare: of(kind, 'bare', (r) => last(r).rssPerConn) };
    // Over all steps: connections opened / time spent opening them.
    const overall = (r: IdleRun) => r.steps.reduce((s, x) => s + x.opened, 0) / r.steps.reduce((s, x) => s + x.opened / x.connectPerSecond, 0);
    const rate = { project: of(kind, 'gateway', overall), bare: of(kind, 'bare', overall) };
    const t = TARGETS[kind];
    const ratioOf = (r: typeof rss) => (r.project && r.bare ? r.project.median / r.bare.median : Number.NaN);
    rows.push(
      {
        figure: `idle ${KIND_LABEL[kind]}: RSS per connection at ${num(top)}`,
        unit: 'KiB',
        ...scale(rss),
        target: `ratio <= ${t.rss}`,
        met: bool(ratioOf(rss), (x) => x <= t.rss),
      },
      {
        figure: `idle ${KIND_LABEL[kind]}: heap per connection at ${num(top)}`,
        unit: 'KiB',
        ...scale({ project: of(kind, 'gateway', (r) => last(r).heapPerConn), bare: of(kind, 'bare', (r) => last(r).heapPerConn) }),
      },
      {
        figure: `idle ${KIND_LABEL[kind]}: connect rate`,
        unit: 'conn/s',
        ...rate,
        target: `ratio >= ${t.rate}`,
        met: bool(ratioOf(rate), (x) => x >= t.rate),
      },
      {
        figure: `idle ${KIND_LABEL[kind]}: CPU per connect, all processes`,
        unit: 'ms',
        project: of(kind, 'gateway', connectCpuPerConn),
        bare: of(kind, 'bare', connectCpuPerConn),
      },
      {
        figure: `idle ${KIND_LABEL[kind]}: idle CPU at ${num(top)}`,
        unit: '% core',
        project: of(kind, 'gateway', (r) => last(r).cpu * 100),
        bare: of(kind, 'bare', (r) => last(r).cpu * 100),
      },
    );
    const held = runs.find((r) => r.kind === kind && r.hold)?.hold;
    if (held) {
      rows.push({
        figure: `idle ${KIND_LABEL[kind]}: ${num(held.connections)} held ${held.seconds} s, dropped`,
        unit: '',
        project: spread([held.dropped]),
        target: 'none dropped',
        met: held.dropped === 0 && held.connections >= top,
      });
    }
  }
  return rows;
}

/** Over all steps: every process's CPU while opening / connections opened. */
const connectCpuPerConn = (r: IdleRun) => r.steps.reduce((s, x) => s + x.connectCpu.totalMs, 0) / r.steps.reduce((s, x) => s + x.opened, 0);

const bool = (x: number, ok: (x: number) => boolean) => (Number.isFinite(x) ? ok(x) : undefined);
const toKiB = (s: Row['project']) =>
  s ? { median: s.median / 1024, min: s.min / 1024, max: s.max / 1024, values: s.values.map((v) => v / 1024) } : undefined;
function scale(r: { project: Row['project']; bare: Row['project'] }): Pick<Row, 'project' | 'bare'> {
  const p = toKiB(r.project);
  const b = toKiB(r.bare);
  return { ...(p ? { project: p } : {}), ...(b ? { bare: b } : {}) };
}

function idleDetail(runs: IdleRun[], ctx: BenchContext): string {
  const o = ctx.opts.idle;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return (
    `One server process per run: gateway 1 restarted fresh by the runner (its own port, not nginx), or a bare \`ws\` / \`socket.io\` server (baselines/idle-*.ts) in a child process. ` +
    `Clients in a separate process (clients/idle-client.ts), ${o.connectConcurrency} connects in flight, 1000 connections per loopback source address, ` +
    `${o.users} users shared by the connections (kept from when every Socket.IO connect broadcast \`presence\` to every Socket.IO client; presence now goes to contacts only, and these users have none). ` +
    `RSS from /proc/<pid>/status, heap from the gateway's nodejs_heap_size_used_bytes (bare: process.memoryUsage().heapUsed), both as (value - empty) / connections; ` +
    `CPU from /proc/<pid>/stat over ${o.cpuWindowMs / 1000} s. Heartbeats at defaults: gateway WEBSOCKET_PING_PERIOD 54s / WEBSOCKET_PONG_WAIT 60s, SOCKETIO_PING_INTERVAL 25s / SOCKETIO_PING_TIMEOUT 20s; bare ws sends no pings, bare socket.io uses the same 25s/20s.\n\n` +
    mdTable(
      ['kind', 'server', 'round', 'connections', 'connect/s', 'failed', 'RSS', 'RSS/conn', 'heap', 'heap/conn', 'CPU'],
      runs.flatMap((r) => [
        [
          KIND_LABEL[r.kind],
          r.target,
          String(r.round),
          '0 (empty)',
          '',
          '',
          mib(r.empty.rssBytes),
          '',
          mib(r.empty.heapBytes),
          '',
          `${(r.empty.cpu * 100).toFixed(1)}%`,
        ],
        ...r.steps.map((s) => [
          KIND_LABEL[r.kind],
          r.target,
          String(r.round),
          String(s.connections),
          num(s.connectPerSecond),
          String(s.failed),
          mib(s.rssBytes),
          kib(s.rssPerConn),
          mib(s.heapBytes),
          kib(s.heapPerConn),
          `${(s.cpu * 100).toFixed(1)}%`,
        ]),
      ]),
    ) +
    "\n\nCPU while a step's connections were opened, per connection opened, from /proc/<pid>/stat of every process on the machine (scripts/bench/cpu.ts; " +
    '"bench process" is the client process, "gateway" both gateways, the idle one included).\n\n' +
    cpuTable(
      runs.flatMap((r) =>
        r.steps.map((s) => ({
          label: `${KIND_LABEL[r.kind]} ${r.target}, to ${num(s.connections)}`,
          round: r.round,
          use: s.connectCpu,
          operations: s.opened,
          unit: 'connect',
        })),
      ),
    ) +
    '\n\n' +
    runs
      .flatMap((r) =>
        r.hold
          ? [`Hold: ${KIND_LABEL[r.kind]} on the gateway, ${r.hold.connections} connections for ${r.hold.seconds} s: ${r.hold.dropped} dropped.`]
          : [],
      )
      .join('\n')
  );
}

export async function runIdle(ctx: BenchContext): Promise<SectionResult> {
  const users = await createUsers(ctx.db.database.url, ctx.opts.idle.users, 'idle');
  const runs: IdleRun[] = [];
  let runIndex = 0;
  for (let round = 1; round <= ctx.opts.rounds; round++) {
    for (const kind of ['ws', 'sio'] as const) {
      for (const target of ['gateway', 'bare'] as const) runs.push(await runOne(ctx, kind, target, round, users, runIndex++));
    }
  }
  const top = ctx.opts.idle.steps.at(-1) as number;
  return { name: 'idle', rows: idleRows(runs, top), detail: idleDetail(runs, ctx), data: runs };
}
