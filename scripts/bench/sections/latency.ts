import { openLoop, type OpenLoopResult } from '../clients/open-loop.ts';
import { startReceivers, type ReceiverPool, type ReceiverSpec, type TagStats } from '../clients/receiver-pool.ts';
import { restSender, sioSender, wsSender, type Sender, type SenderKind } from '../clients/senders.ts';
import { mdTable, ms, num } from '../format.ts';
import { spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';
import { startWorker } from '../worker.ts';

// `latency`: send -> receive with sender and receiver on different gateways, at
// fixed open-loop rates, for each way of sending; against a bare `ws` relay.

type Kind = SenderKind | 'bare-ws';
const KINDS: Kind[] = ['rest', 'ws', 'sio', 'bare-ws'];
const LABEL: Record<Kind, string> = {
  rest: 'REST via nginx',
  ws: 'plain WS, other gateway',
  sio: 'Socket.IO, other gateway',
  'bare-ws': 'bare ws relay',
};

interface Sample {
  kind: Kind;
  rate: number;
  round: number;
  sent: OpenLoopResult;
  got: TagStats;
  /** Stored messages some receiver never got within the timeout, summed over receivers. */
  lost: number;
}

export function receiverSpecs(users: BenchUser[], gatewayPorts: number[], perKind: number, offset = 0): ReceiverSpec[] {
  const specs: ReceiverSpec[] = [];
  for (let i = 0; i < perKind * 2; i++) {
    const u = users[i] as BenchUser;
    const port = gatewayPorts[i % gatewayPorts.length] as number;
    const localAddress = loopback(offset + i);
    specs.push(
      i < perKind
        ? { kind: 'ws', url: `ws://127.0.0.1:${port}/api/ws/connect?token=${encodeURIComponent(u.token)}`, localAddress }
        : { kind: 'sio', url: `http://127.0.0.1:${port}`, token: u.token, localAddress },
    );
  }
  return specs;
}

async function makeSenders(kind: SenderKind, users: BenchUser[], ctx: BenchContext, gatewayPort: number): Promise<Sender[]> {
  return Promise.all(
    users.map((u, i) => {
      if (kind === 'rest') return Promise.resolve(restSender(`${ctx.cluster.lbUrl}/api/messages`, u.token, u.id, loopback(100 + i)));
      if (kind === 'ws') return wsSender(`ws://127.0.0.1:${gatewayPort}/api/ws/connect?token=${encodeURIComponent(u.token)}`);
      return sioSender(`http://127.0.0.1:${gatewayPort}`, u.token);
    }),
  );
}

async function measure(pool: ReceiverPool, senders: Sender[], kind: Kind, rate: number, round: number, ctx: BenchContext): Promise<Sample> {
  const { warmupMs, durationMs, lossTimeoutMs } = ctx.opts.latency;
  const tag = `lat-${kind}-${rate}-${round}`;
  await openLoop(senders, { rate, durationMs: warmupMs, tag: `${tag}-warm` });
  await pool.settle(`${tag}-warm`, 0, 0);
  const sent = await openLoop(senders, { rate, durationMs, tag });
  const got = await pool.settle(tag, sent.ok * pool.size, lossTimeoutMs);
  const lost = got.distinctPerReceiver.reduce((sum, n) => sum + Math.max(0, sent.ok - n), 0);
  ctx.say(
    `latency ${LABEL[kind]} @${rate}/s round ${round}: p50 ${ms(got.latency.p50)} p99 ${ms(got.latency.p99)} max ${ms(got.latency.max)}; ` +
      `stored ${sent.ok}/${sent.scheduled}, failed ${sent.failed}, lost ${lost}, generator lag ${ms(sent.maxLagMs)}`,
  );
  return { kind, rate, round, sent, got, lost };
}

export async function runLatency(ctx: BenchContext): Promise<SectionResult> {
  const { opts, cluster } = ctx;
  const { senders: nSenders, receiversPerKind, rates } = opts.latency;
  const users = await createUsers(ctx.db.database.url, receiversPerKind * 2 + nSenders * 3, 'lat');
  const [senderGateway, receiverGateway] = cluster.gatewayPorts as [number, number];
  // Receivers on gateway 2 only; socket senders on gateway 1.
  const pool = await startReceivers(receiverSpecs(users, [receiverGateway], receiversPerKind));
  const bareServer = await startWorker(new URL('../baselines/ws-broadcast.ts', import.meta.url).pathname);
  const barePool = await startReceivers(
    Array.from({ length: receiversPerKind * 2 }, (_, i) => ({
      kind: 'ws' as const,
      url: `ws://127.0.0.1:${String(bareServer.hello.port)}/`,
      localAddress: loopback(i),
    })),
  );
  const senderUsers = (k: number) => users.slice(receiversPerKind * 2 + k * nSenders, receiversPerKind * 2 + (k + 1) * nSenders);
  const senders: Record<Kind, Sender[]> = {
    rest: await makeSenders('rest', senderUsers(0), ctx, senderGateway),
    ws: await makeSenders('ws', senderUsers(1), ctx, senderGateway),
    sio: await makeSenders('sio', senderUsers(2), ctx, senderGateway),
    'bare-ws': await Promise.all(Array.from({ length: nSenders }, () => wsSender(`ws://127.0.0.1:${String(bareServer.hello.port)}/`, true))),
  };
  const samples: Sample[] = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const rate of rates) {
        for (const kind of KINDS) samples.push(await measure(kind === 'bare-ws' ? barePool : pool, senders[kind], kind, rate, round, ctx));
      }
    }
  } finally {
    for (const s of Object.values(senders).flat()) s.close();
    await Promise.all([pool.close(), barePool.close(), bareServer.stop()]);
  }
  return { name: 'latency', rows: latencyRows(samples, rates), detail: latencyDetail(samples, ctx), data: samples };
}

function latencyRows(samples: Sample[], rates: number[]): Row[] {
  const of = (kind: Kind, rate: number, f: (s: Sample) => number) => spread(samples.filter((s) => s.kind === kind && s.rate === rate).map(f));
  const rows: Row[] = [];
  for (const rate of rates) {
    for (const kind of ['rest', 'ws', 'sio'] as const) {
      for (const q of ['p50', 'p99'] as const) {
        const project = of(kind, rate, (s) => s.got.latency[q]);
        const row: Row = {
          figure: `latency: ${LABEL[kind]} -> receiver, ${rate} msg/s, ${q}`,
          unit: 'ms',
          project,
          bare: of('bare-ws', rate, (s) => s.got.latency[q]),
        };
        // The goal (capacity issue): a REST send at 200 msg/s within 5x the bare relay, at p50 and p99.
        if (kind === 'rest' && rate === 200) {
          row.target = 'ratio <= 5';
          row.met = row.bare ? project.median / row.bare.median <= 5 : undefined;
        }
        rows.push(row);
      }
    }
  }
  rows.push({
    figure: 'latency: messages lost (all rates, kinds, rounds)',
    unit: '',
    project: spread([samples.filter((s) => s.kind !== 'bare-ws').reduce((n, s) => n + s.lost, 0)]),
    bare: spread([samples.filter((s) => s.kind === 'bare-ws').reduce((n, s) => n + s.lost, 0)]),
    target: '0',
    met: samples.filter((s) => s.kind !== 'bare-ws').every((s) => s.lost === 0),
  });
  return rows;
}

function latencyDetail(samples: Sample[], ctx: BenchContext): string {
  const o = ctx.opts.latency;
  return (
    `Open loop (sends scheduled by the wall clock), ${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s per rate and sender kind, round robin over ${o.senders} senders (own user each). ` +
    `Receivers: ${o.receiversPerKind} plain WS + ${o.receiversPerKind} Socket.IO, connected straight to gateway 2's port; socket senders connected straight to gateway 1's port ` +
    "(plain WS in the seed's way, no client_msg_id; Socket.IO `message` with an ack); REST through nginx. Latency = receive time minus send time " +
    `carried in the content (one clock). Lost = stored but not received by a receiver within ${o.lossTimeoutMs / 1000} s, summed over receivers. ` +
    `Bare baseline: a \`ws\` relay (baselines/ws-broadcast.ts) with ${o.receiversPerKind * 2} plain-WS receivers and ${o.senders} ws senders at the same rates.\n\n` +
    mdTable(
      ['sender', 'rate', 'round', 'stored', 'failed', 'lost', 'p50', 'p95', 'p99', 'max', 'generator lag'],
      samples.map((s) => [
        LABEL[s.kind],
        `${s.rate}/s`,
        String(s.round),
        `${s.sent.ok}/${s.sent.scheduled}`,
        String(s.sent.failed),
        String(s.lost),
        ms(s.got.latency.p50),
        ms(s.got.latency.p95),
        ms(s.got.latency.p99),
        ms(s.got.latency.max),
        ms(s.sent.maxLagMs),
      ]),
    ) +
    `\n\nReceived deliveries: ${num(samples.reduce((n, s) => n + s.got.received, 0))}.`
  );
}
