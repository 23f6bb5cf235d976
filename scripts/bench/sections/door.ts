import { cpuBetween, cpuTable, sampleCpu, type CpuUse } from '../cpu.ts';
import { kib, mdTable, num } from '../format.ts';
import { rssBytes } from '../proc.ts';
import { sleep, spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, type BenchUser } from '../users.ts';
import { startWorker, type Worker } from '../worker.ts';

// `door`: what clients get through nginx (:8080), the only way into the cluster,
// each client from a loopback address of its own.
//   rate      N plain-WS, then N Socket.IO clients connect through nginx to the
//             gateways, and to a bare ws / socket.io server behind the SAME nginx
//             (its gateway upstream pointed at the bare server and reloaded).
//   capacity  `capacityPerKind` of each kind at once through nginx: refused, RSS per
//             socket of nginx (master + workers) and of the gateways, held a while.
//   storm     gateway 1 killed (SIGKILL) under its share of them; every client
//             reconnects (socket.io-client's default back-off); time until all are back.

type Kind = 'ws' | 'sio';
type Target = 'gateway' | 'bare';
const KIND_LABEL: Record<Kind, string> = { ws: 'plain WS', sio: 'Socket.IO' };

interface OpenResult {
  opened: number;
  failed: number;
  ms: number;
  errors: string[];
}
interface ClientStatus {
  open: number;
  dropped: number;
  refused: number;
  reopened: number;
  firstDropAt?: number;
  lastReopenAt?: number;
}

interface RateRun {
  kind: Kind;
  target: Target;
  round: number;
  opened: number;
  failed: number;
  perSecond: number;
  cpu: CpuUse;
}

interface Capacity {
  wanted: number;
  open: number;
  refused: number;
  openMs: number;
  nginx: { before: number; after: number; processes: number };
  gateways: { before: number; after: number };
  hold: { seconds: number; dropped: number };
}

interface Storm {
  dropped: number;
  backWithinMs: number | undefined;
  refused: number;
  stillDown: number;
}

const url = (kind: Kind, base: string) => (kind === 'ws' ? `${base.replace('http', 'ws')}/api/ws/connect?token={token}` : base);

/** Address ranges: each client its own, and the capacity clients apart from the rate runs'. */
const RATE_ADDRESSES = 100;
const CAPACITY_ADDRESSES = { ws: 30_000, sio: 45_000 } as const;

async function sumRss(pids: number[]): Promise<number> {
  const values = await Promise.all(pids.map((pid) => rssBytes(pid).catch(() => 0)));
  return values.reduce((a, b) => a + b, 0);
}

async function rateRun(
  ctx: BenchContext,
  kind: Kind,
  target: Target,
  round: number,
  users: BenchUser[],
  bare: Record<Kind, Worker>,
): Promise<RateRun> {
  const o = ctx.opts.door;
  if (target === 'bare') await ctx.cluster.routeGateways([Number(bare[kind].hello.port)]);
  const client = await startWorker(new URL('../clients/idle-client.ts', import.meta.url).pathname);
  try {
    const before = await sampleCpu();
    const result = await client.call<OpenResult>({
      cmd: 'open',
      kind,
      url: url(kind, ctx.cluster.lbUrl),
      tokens: users.map((u) => u.token),
      total: o.rateConnections,
      concurrency: o.concurrency,
      addressOffset: RATE_ADDRESSES,
      perAddress: 1,
      greeting: kind === 'ws' && target === 'gateway',
    });
    const cpu = cpuBetween(before, await sampleCpu());
    if (result.failed > 0) ctx.say(`door rate ${kind} ${target}: ${result.failed} failed (${result.errors.join('; ')})`);
    const run = { kind, target, round, opened: result.opened, failed: result.failed, perSecond: result.opened / (result.ms / 1000), cpu };
    ctx.say(`door rate ${KIND_LABEL[kind]} -> ${target} round ${round}: ${num(run.perSecond)} conn/s, ${run.failed} failed`);
    return run;
  } finally {
    await client.call({ cmd: 'close' }).catch(() => undefined);
    await client.stop();
    // The servers let go of the closed connections before the next run measures.
    await sleep(1_500);
    if (target === 'bare') await ctx.cluster.routeGateways();
  }
}

async function capacityAndStorm(ctx: BenchContext, users: BenchUser[]): Promise<{ capacity: Capacity; storm: Storm }> {
  const o = ctx.opts.door;
  const clients = {
    ws: await startWorker(new URL('../clients/idle-client.ts', import.meta.url).pathname),
    sio: await startWorker(new URL('../clients/idle-client.ts', import.meta.url).pathname),
  };
  const gatewayPids = () => ctx.cluster.gatewayPorts.map((_, i) => ctx.cluster.gatewayPid(i + 1));
  const status = () => Promise.all([clients.ws.call<ClientStatus>({ cmd: 'status' }), clients.sio.call<ClientStatus>({ cmd: 'status' })]);
  const openCount = async () => (await status()).reduce((s, x) => s + x.open, 0);
  try {
    // Fresh gateways: memory the rate runs freed would otherwise be reused and hide the cost.
    for (let n = 1; n <= ctx.cluster.gatewayPorts.length; n++) await ctx.cluster.restartGateway(n);
    await sleep(1_000);
    const nginxPids = await ctx.cluster.nginxPids();
    const nginxBefore = await sumRss(nginxPids);
    const gatewaysBefore = await sumRss(gatewayPids());
    const t0 = performance.now();
    const opened = await Promise.all(
      (['ws', 'sio'] as const).map((kind) =>
        clients[kind].call<OpenResult>({
          cmd: 'open',
          kind,
          url: url(kind, ctx.cluster.lbUrl),
          tokens: users.map((u) => u.token),
          total: o.capacityPerKind,
          concurrency: o.concurrency / 2,
          addressOffset: CAPACITY_ADDRESSES[kind],
          perAddress: 1,
          greeting: kind === 'ws',
          reconnect: true,
        }),
      ),
    );
    const openMs = performance.now() - t0;
    for (const [i, r] of opened.entries())
      if (r.failed > 0) ctx.say(`door capacity ${i === 0 ? 'ws' : 'sio'}: ${r.failed} refused (${r.errors.join('; ')})`);
    await sleep(2_000);
    const open = await openCount();
    const capacity: Capacity = {
      wanted: 2 * o.capacityPerKind,
      open,
      refused: opened.reduce((s, r) => s + r.failed, 0),
      openMs,
      nginx: { before: nginxBefore, after: await sumRss(await ctx.cluster.nginxPids()), processes: nginxPids.length },
      gateways: { before: gatewaysBefore, after: await sumRss(gatewayPids()) },
      hold: { seconds: o.holdMs / 1000, dropped: 0 },
    };
    ctx.say(
      `door capacity: ${num(open)} of ${num(capacity.wanted)} open through nginx in ${(openMs / 1000).toFixed(1)} s, ${capacity.refused} refused; ` +
        `nginx RSS ${kib((capacity.nginx.after - capacity.nginx.before) / open)}/socket, gateways ${kib((capacity.gateways.after - capacity.gateways.before) / open)}/socket`,
    );
    const droppedBefore = (await status()).reduce((s, x) => s + x.dropped, 0);
    await sleep(o.holdMs);
    capacity.hold.dropped = (await status()).reduce((s, x) => s + x.dropped, 0) - droppedBefore;
    ctx.say(`door capacity: held ${num(open)} for ${capacity.hold.seconds} s, ${capacity.hold.dropped} dropped`);

    // The storm: gateway 1 dies with its share of the clients; the runner restarts it.
    const base = await status();
    const killedAt = Date.now();
    ctx.cluster.killGateway(1, 'SIGKILL');
    const deadline = killedAt + o.stormTimeoutMs;
    let now = base;
    for (;;) {
      await sleep(100);
      now = await status();
      const dropped = now.reduce((s, x, i) => s + x.dropped - (base[i] as ClientStatus).dropped, 0);
      const reopened = now.reduce((s, x, i) => s + x.reopened - (base[i] as ClientStatus).reopened, 0);
      if ((dropped > 0 && reopened >= dropped) || Date.now() > deadline) break;
    }
    const dropped = now.reduce((s, x, i) => s + x.dropped - (base[i] as ClientStatus).dropped, 0);
    const lastBack = Math.max(...now.map((x) => x.lastReopenAt ?? 0));
    const stillDown = capacity.open - now.reduce((s, x) => s + x.open, 0);
    const storm: Storm = {
      dropped,
      backWithinMs: stillDown === 0 && lastBack > killedAt ? lastBack - killedAt : undefined,
      refused: now.reduce((s, x, i) => s + x.refused - (base[i] as ClientStatus).refused, 0),
      stillDown,
    };
    ctx.say(
      `door storm: gateway 1 killed under ${num(dropped)} clients; ` +
        (storm.backWithinMs === undefined
          ? `${stillDown} still down after ${o.stormTimeoutMs / 1000} s`
          : `all back within ${(storm.backWithinMs / 1000).toFixed(2)} s`) +
        `, ${storm.refused} reconnect attempts refused`,
    );
    return { capacity, storm };
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.call({ cmd: 'close' }).catch(() => undefined)));
    await Promise.all(Object.values(clients).map((c) => c.stop()));
  }
}

function rows(rate: RateRun[], capacity: Capacity, storm: Storm, ctx: BenchContext): Row[] {
  const of = (kind: Kind, target: Target) => {
    const xs = rate.filter((r) => r.kind === kind && r.target === target);
    return xs.length > 0 ? spread(xs.map((r) => r.perSecond)) : undefined;
  };
  const out: Row[] = [];
  for (const kind of ['ws', 'sio'] as const) {
    const project = of(kind, 'gateway');
    const bare = of(kind, 'bare');
    const r = project && bare ? project.median / bare.median : Number.NaN;
    out.push({
      figure: `door ${KIND_LABEL[kind]}: connect rate through nginx, ${num(ctx.opts.door.rateConnections)} clients`,
      unit: 'conn/s',
      ...(project ? { project } : {}),
      ...(bare ? { bare } : {}),
      target: 'ratio >= 0.6',
      ...(Number.isFinite(r) ? { met: r >= 0.6 } : {}),
    });
  }
  const perSocket = (x: { before: number; after: number }) => spread([(x.after - x.before) / 1024 / capacity.open]);
  out.push(
    {
      figure: `door: sockets open at once through nginx (${num(capacity.wanted)} wanted), refused`,
      unit: '',
      project: spread([capacity.refused]),
      target: `${num(capacity.wanted)} open, 0 refused`,
      met: capacity.open === capacity.wanted && capacity.refused === 0,
    },
    { figure: `door: nginx RSS per socket at ${num(capacity.open)}`, unit: 'KiB', project: perSocket(capacity.nginx) },
    { figure: `door: gateways' RSS per socket at ${num(capacity.open)}`, unit: 'KiB', project: perSocket(capacity.gateways) },
    {
      figure: `door: held ${capacity.hold.seconds} s, dropped`,
      unit: '',
      project: spread([capacity.hold.dropped]),
      target: 'none dropped',
      met: capacity.hold.dropped === 0,
    },
    {
      figure: `door: reconnect storm, gateway 1 killed under ${num(storm.dropped)} clients: all back within`,
      unit: 's',
      ...(storm.backWithinMs === undefined ? {} : { project: spread([storm.backWithinMs / 1000]) }),
      target: '<= 10 s, 0 refused',
      met: storm.backWithinMs !== undefined && storm.backWithinMs <= 10_000 && storm.refused === 0,
    },
    { figure: 'door: reconnect storm, attempts refused', unit: '', project: spread([storm.refused]) },
  );
  return out;
}

function detail(rate: RateRun[], capacity: Capacity, storm: Storm, ctx: BenchContext): string {
  const o = ctx.opts.door;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return (
    `Every client from a loopback address of its own, through nginx on :8080 with the repository's nginx.conf. ` +
    `Rate: ${num(o.rateConnections)} clients per run, ${o.concurrency} connects in flight, closed after each run; the bare runs reload the same nginx with its gateway upstream pointed at a bare \`ws\` / \`socket.io\` server (baselines/idle-*.ts). ` +
    `A gateway connection counts once its greeting arrived (plain WS: the first frame; Socket.IO: \`connect\`); a bare one at the upgrade.\n\n` +
    mdTable(
      ['kind', 'server', 'round', 'opened', 'failed', 'conn/s', 'CPU ms per connect, all processes'],
      rate.map((r) => [
        KIND_LABEL[r.kind],
        r.target,
        String(r.round),
        num(r.opened),
        String(r.failed),
        num(r.perSecond),
        (r.cpu.totalMs / r.opened).toFixed(2),
      ]),
    ) +
    '\n\n' +
    cpuTable(
      rate.map((r) => ({ label: `${KIND_LABEL[r.kind]} -> ${r.target}`, round: r.round, use: r.cpu, operations: r.opened, unit: 'connect' })),
    ) +
    `\n\nCapacity: ${num(o.capacityPerKind)} plain WS and ${num(o.capacityPerKind)} Socket.IO opened together in ${(capacity.openMs / 1000).toFixed(1)} s; ` +
    `${num(capacity.open)} open, ${capacity.refused} refused. nginx (${capacity.nginx.processes} processes) RSS ${mib(capacity.nginx.before)} -> ${mib(capacity.nginx.after)}; ` +
    `gateways ${mib(capacity.gateways.before)} -> ${mib(capacity.gateways.after)}. Held ${capacity.hold.seconds} s: ${capacity.hold.dropped} dropped.\n\n` +
    `Storm: gateway 1 killed with SIGKILL (the runner restarts it); ${num(storm.dropped)} clients dropped, ` +
    (storm.backWithinMs === undefined
      ? `${storm.stillDown} still down after ${o.stormTimeoutMs / 1000} s`
      : `all back ${(storm.backWithinMs / 1000).toFixed(2)} s after the kill`) +
    `; ${storm.refused} reconnect attempts refused. Clients reconnect after 1 s doubling to 5 s, each +-50% (socket.io-client's defaults; the plain-WS client does the same).`
  );
}

export async function runDoor(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.opts.door;
  const users = await createUsers(ctx.db.database.url, o.users, 'door');
  const bare = {
    ws: await startWorker(new URL('../baselines/idle-ws.ts', import.meta.url).pathname),
    sio: await startWorker(new URL('../baselines/idle-sio.ts', import.meta.url).pathname),
  };
  const rate: RateRun[] = [];
  try {
    for (let round = 1; round <= ctx.opts.rounds; round++) {
      for (const kind of ['ws', 'sio'] as const) {
        // Alternate which goes first, so a drift of the machine does not favour one.
        const order: Target[] = round % 2 === 1 ? ['gateway', 'bare'] : ['bare', 'gateway'];
        for (const target of order) rate.push(await rateRun(ctx, kind, target, round, users, bare));
      }
    }
  } finally {
    await Promise.all([bare.ws.stop(), bare.sio.stop()]);
  }
  const { capacity, storm } = await capacityAndStorm(ctx, users);
  return { name: 'door', rows: rows(rate, capacity, storm, ctx), detail: detail(rate, capacity, storm, ctx), data: { rate, capacity, storm } };
}
