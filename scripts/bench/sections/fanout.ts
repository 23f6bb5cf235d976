import { openLoop, type OpenLoopResult } from '../clients/open-loop.ts';
import { startReceivers, type ReceiverPool, type TagStats } from '../clients/receiver-pool.ts';
import { restSender, wsSender, type Sender } from '../clients/senders.ts';
import type { BenchCluster } from '../cluster.ts';
import { mdTable, ms, num } from '../format.ts';
import { spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';
import { startWorker } from '../worker.ts';
import { receiverSpecs } from './latency.ts';

// `fanout`: global messages at a fixed rate to many receivers of both kinds on
// both gateways; against a bare `ws` broadcast server with as many receivers.

export interface FanoutSample {
  who: 'cluster' | 'bare';
  round: number;
  sent: OpenLoopResult;
  got: TagStats;
  deliveriesPerSecond: number;
  lost: number;
}

async function measure(
  pool: ReceiverPool,
  sender: Sender,
  who: FanoutSample['who'],
  round: number,
  ctx: Pick<BenchContext, 'opts' | 'say'>,
  pad = 0,
): Promise<FanoutSample> {
  const { rate, durationMs } = ctx.opts.fanout;
  const tag = `fan-${who}-${round}-${Math.random().toString(36).slice(2, 6)}`;
  const sent = await openLoop([sender], { rate, durationMs, tag, pad });
  const got = await pool.settle(tag, sent.ok * pool.size, 10_000);
  const lost = got.distinctPerReceiver.reduce((sum, n) => sum + Math.max(0, sent.ok - n), 0);
  const deliveriesPerSecond = got.received / (durationMs / 1000);
  ctx.say(
    `fanout ${who} round ${round}: ${num(deliveriesPerSecond)} deliveries/s to ${pool.size} receivers; p50 ${ms(got.latency.p50)} p99 ${ms(got.latency.p99)} max ${ms(got.latency.max)}; lost ${lost}`,
  );
  return { who, round, sent, got, deliveriesPerSecond, lost };
}

/** The cluster half, `rounds` times (the metrics comparison reuses it on a second cluster). */
export async function fanoutProject(
  ctx: Pick<BenchContext, 'opts' | 'say'>,
  cluster: BenchCluster,
  users: BenchUser[],
  rounds: number[],
): Promise<FanoutSample[]> {
  const n = ctx.opts.fanout.receiversPerKind;
  const pool = await startReceivers(receiverSpecs(users, cluster.gatewayPorts, n));
  const sender = users[n * 2] as BenchUser;
  const rest = restSender(`${cluster.lbUrl}/api/messages`, sender.token, sender.id, loopback(1000));
  try {
    const out: FanoutSample[] = [];
    for (const round of rounds) out.push(await measure(pool, rest, 'cluster', round, ctx));
    return out;
  } finally {
    rest.close();
    await pool.close();
  }
}

export const fanoutUsers = (ctx: BenchContext) => createUsers(ctx.db.database.url, ctx.opts.fanout.receiversPerKind * 2 + 1, 'fan');

/** The goal (capacity issue): fan-out p99 within 1.5x the bare broadcast. */
function fanoutP99(project: Row['project'], bare: Row['bare'], label: string): Row {
  const row: Row = { figure: `fanout: delivery p99${label}`, unit: 'ms', project, bare };
  if (project && bare) {
    row.target = 'ratio <= 1.5';
    row.met = project.median / bare.median <= 1.5;
  }
  return row;
}

export function fanoutRows(project: FanoutSample[], bare: FanoutSample[] | undefined, label = ''): Row[] {
  const of = (xs: FanoutSample[] | undefined, f: (s: FanoutSample) => number) => (xs && xs.length > 0 ? spread(xs.map(f)) : undefined);
  return [
    {
      figure: `fanout: deliveries/s${label}`,
      unit: '/s',
      project: of(project, (s) => s.deliveriesPerSecond),
      bare: of(bare, (s) => s.deliveriesPerSecond),
    },
    { figure: `fanout: delivery p50${label}`, unit: 'ms', project: of(project, (s) => s.got.latency.p50), bare: of(bare, (s) => s.got.latency.p50) },
    fanoutP99(
      of(project, (s) => s.got.latency.p99),
      of(bare, (s) => s.got.latency.p99),
      label,
    ),
    { figure: `fanout: lost deliveries${label}`, unit: '', project: of(project, (s) => s.lost), bare: of(bare, (s) => s.lost) },
  ];
}

function fanoutTable(samples: FanoutSample[]): string {
  return mdTable(
    ['run', 'round', 'messages stored', 'deliveries', 'deliveries/s', 'lost', 'p50', 'p95', 'p99', 'max'],
    samples.map((s) => [
      s.who,
      String(s.round),
      `${s.sent.ok}/${s.sent.scheduled}`,
      String(s.got.received),
      num(s.deliveriesPerSecond),
      String(s.lost),
      ms(s.got.latency.p50),
      ms(s.got.latency.p95),
      ms(s.got.latency.p99),
      ms(s.got.latency.max),
    ]),
  );
}

export async function runFanout(ctx: BenchContext): Promise<SectionResult> {
  const { opts } = ctx;
  const n = opts.fanout.receiversPerKind;
  const users = await fanoutUsers(ctx);
  const rounds = Array.from({ length: opts.rounds }, (_, i) => i + 1);
  const project: FanoutSample[] = [];
  const bare: FanoutSample[] = [];
  const bareServer = await startWorker(new URL('../baselines/ws-broadcast.ts', import.meta.url).pathname);
  try {
    for (const round of rounds) {
      // Receivers reconnect per round so cluster and bare alternate on an otherwise idle machine.
      const [p] = await fanoutProject(ctx, ctx.cluster, users, [round]);
      project.push(p as FanoutSample);
      // Frames of the same size as the cluster's plain-WS frames (a stored message carries ids and timestamps).
      const pad = Math.max(0, Math.round((p as FanoutSample).got.wsFrameBytes) - 70);
      const url = `ws://127.0.0.1:${String(bareServer.hello.port)}/`;
      const pool = await startReceivers(Array.from({ length: n * 2 }, (_, i) => ({ kind: 'ws' as const, url, localAddress: loopback(i) })));
      const sender = await wsSender(url, true);
      try {
        bare.push(await measure(pool, sender, 'bare', round, ctx, pad));
      } finally {
        sender.close();
        await pool.close();
      }
    }
  } finally {
    await bareServer.stop();
  }
  const frame = project[0]?.got.wsFrameBytes;
  return {
    name: 'fanout',
    rows: fanoutRows(project, bare),
    detail:
      `Global messages over REST through nginx at ${opts.fanout.rate} msg/s for ${opts.fanout.durationMs / 1000} s (open loop) to ${n} plain-WS + ${n} Socket.IO receivers ` +
      `(own user each, half on each gateway, connected to the gateway ports directly, all in one client process). ` +
      `Bare baseline: \`ws\` broadcast server with ${n * 2} plain-WS receivers (as many as the cluster's receivers of both kinds, so the expected deliveries/s match), ` +
      `one ws sender at the same rate, frames padded to the cluster's plain-WS frame size (${num(frame)} bytes).\n\n` +
      fanoutTable([...project, ...bare]),
    data: { project, bare },
  };
}
