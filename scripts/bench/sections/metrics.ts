import type { BenchCluster } from '../cluster.ts';
import { mdTable, ms, num } from '../format.ts';
import type { SectionName } from '../options.ts';
import { spread, type Spread } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers } from '../users.ts';
import { fanoutProject, fanoutRows, fanoutUsers, type FanoutSample } from './fanout.ts';
import { sendProject, sendRows, type SendRun } from './send.ts';

// `metrics`: what Prometheus costs. `send` and `fanout` on the cluster with
// metrics (reused from this run's sections when they ran) and again on a cluster
// started with METRICS_ENABLED=false, side by side.

interface Side {
  send: SendRun[];
  fanout: FanoutSample[];
}

async function measure(ctx: BenchContext, cluster: BenchCluster): Promise<Side> {
  const senders = await createUsers(ctx.db.database.url, ctx.opts.send.senders, 'msnd');
  const send: SendRun[] = [];
  for (let round = 1; round <= ctx.opts.rounds; round++) {
    const r = await sendProject(ctx, cluster, senders, round);
    ctx.say(`metrics ${cluster.metricsEnabled ? 'on' : 'off'}: send round ${round}: ${num(r.perSecond)} msg/s, p50 ${ms(r.latency.p50)}`);
    send.push(r);
  }
  const rounds = Array.from({ length: ctx.opts.rounds }, (_, i) => i + 1);
  const fanout = await fanoutProject(ctx, cluster, await fanoutUsers(ctx), rounds);
  return { send, fanout };
}

export async function runMetrics(
  ctx: BenchContext,
  done: ReadonlyMap<SectionName, SectionResult>,
  restartWithoutMetrics: () => Promise<BenchCluster>,
): Promise<SectionResult> {
  const sendData = done.get('send')?.data as { project: SendRun[]; bare: SendRun[] } | undefined;
  const fanoutData = done.get('fanout')?.data as { project: FanoutSample[]; bare: FanoutSample[] } | undefined;
  let on: Side;
  if (sendData && fanoutData) on = { send: sendData.project, fanout: fanoutData.project };
  else on = await measure(ctx, ctx.cluster);
  const off = await measure(ctx, await restartWithoutMetrics());

  const rows: Row[] = [
    ...sendRows(off.send, sendData?.bare, ', METRICS_ENABLED=false'),
    ...fanoutRows(off.fanout, fanoutData?.bare, ', METRICS_ENABLED=false'),
  ].filter((r) => !r.figure.includes('lost') && !r.figure.includes('machine busy'));
  const pair = (figure: string, unit: string, a: Spread, b: Spread) => [
    figure,
    `${num(a.median)} ${unit}`,
    `${num(b.median)} ${unit}`,
    `${(((a.median - b.median) / b.median) * 100).toFixed(1)}%`,
  ];
  const s = (xs: SendRun[], f: (r: SendRun) => number) => spread(xs.map(f));
  const fo = (xs: FanoutSample[], f: (r: FanoutSample) => number) => spread(xs.map(f));
  const detail =
    'Medians over rounds; "on minus off" is relative to metrics off (negative throughput or positive latency = what metrics cost). ' +
    `The "on" figures are ${sendData && fanoutData ? "this run's send and fanout sections" : 'measured by this section first'}; "off" is a second cluster on the same database with METRICS_ENABLED=false ` +
    '(no metrics listener, no process metrics, no HTTP timing middleware). The machine is shared: differences of a few percent are within noise.\n\n' +
    mdTable(
      ['figure', 'metrics on', 'metrics off', 'on minus off'],
      [
        pair(
          'send: persisted msg/s',
          'msg/s',
          s(on.send, (r) => r.perSecond),
          s(off.send, (r) => r.perSecond),
        ),
        pair(
          'send: request p50',
          'ms',
          s(on.send, (r) => r.latency.p50),
          s(off.send, (r) => r.latency.p50),
        ),
        pair(
          'send: request p99',
          'ms',
          s(on.send, (r) => r.latency.p99),
          s(off.send, (r) => r.latency.p99),
        ),
        pair(
          'fanout: delivery p50',
          'ms',
          fo(on.fanout, (r) => r.got.latency.p50),
          fo(off.fanout, (r) => r.got.latency.p50),
        ),
        pair(
          'fanout: delivery p99',
          'ms',
          fo(on.fanout, (r) => r.got.latency.p99),
          fo(off.fanout, (r) => r.got.latency.p99),
        ),
        pair(
          'fanout: deliveries/s',
          '/s',
          fo(on.fanout, (r) => r.deliveriesPerSecond),
          fo(off.fanout, (r) => r.deliveriesPerSecond),
        ),
      ],
    );
  return { name: 'metrics', rows, detail, data: { on, off } };
}
