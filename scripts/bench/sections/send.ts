import { closedLoop, type ClosedLoopResult } from '../clients/closed-loop.ts';
import { createPoster } from '../clients/http.ts';
import type { BenchCluster } from '../cluster.ts';
import { cpuTable, cpuWindow, type CpuUse } from '../cpu.ts';
import { mdTable, ms, num } from '../format.ts';
import { spread, type Percentiles } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';
import { startWorker } from '../worker.ts';

// `send`: persisted messages per second and request latency, N closed-loop REST
// senders through nginx, against node:http + pg doing the same single INSERT.

const BARE_POOL = 20; // 2 API replicas x DB_POOL_MAX 10: the same number of PostgreSQL connections
const content = (round: number) => (i: number) => `bench send r${round} #${i} ${'x'.repeat(40)}`;

/** A closed-loop run and the CPU every process on the machine used in its measured window. */
export interface SendRun extends ClosedLoopResult {
  cpu: CpuUse;
}

async function drive(url: string, users: BenchUser[], ctx: Pick<BenchContext, 'opts'>, round: number, viaAddresses: boolean): Promise<SendRun> {
  const posters = users.map((u, i) => createPoster({ url, token: u.token, senderId: u.id, ...(viaAddresses ? { localAddress: loopback(i) } : {}) }));
  try {
    const cpu = cpuWindow(ctx.opts.send.warmupMs, ctx.opts.send.durationMs);
    const result = await closedLoop(posters, { ...ctx.opts.send, content: content(round) });
    return { ...result, cpu: await cpu };
  } finally {
    for (const p of posters) p.close();
  }
}

/** The cluster half alone (the metrics comparison reuses it on a second cluster). */
export async function sendProject(ctx: Pick<BenchContext, 'opts'>, cluster: BenchCluster, users: BenchUser[], round: number): Promise<SendRun> {
  // One source address per sender: nginx's per-address guard (200 req/s) is for
  // floods from one client, and real senders come from many addresses.
  return drive(`${cluster.lbUrl}/api/messages`, users, ctx, round, true);
}

const cpuPerMessage = (r: SendRun) => r.cpu.totalMs / Math.max(r.ok, 1);

export function sendRows(project: SendRun[], bare: SendRun[] | undefined, label = ''): Row[] {
  const pick = (rs: SendRun[] | undefined, f: (r: SendRun) => number) => (rs ? spread(rs.map(f)) : undefined);
  const msgs = { project: spread(project.map((r) => r.perSecond)), bare: pick(bare, (r) => r.perSecond) };
  return [
    {
      figure: `send: persisted msg/s, REST${label}`,
      unit: 'msg/s',
      ...msgs,
      target: 'ratio >= 0.8',
      met: msgs.bare ? msgs.project.median / msgs.bare.median >= 0.8 : undefined,
    },
    { figure: `send: request p50${label}`, unit: 'ms', project: spread(project.map((r) => r.latency.p50)), bare: pick(bare, (r) => r.latency.p50) },
    { figure: `send: request p99${label}`, unit: 'ms', project: spread(project.map((r) => r.latency.p99)), bare: pick(bare, (r) => r.latency.p99) },
    // The ceiling on this machine: every process's CPU per stored message (cores / this = the most msg/s possible).
    {
      figure: `send: CPU per stored message, all processes${label}`,
      unit: 'ms',
      project: spread(project.map(cpuPerMessage)),
      bare: pick(bare, cpuPerMessage),
    },
    {
      figure: `send: machine busy during the window${label}`,
      unit: '%',
      project: spread(project.map((r) => r.cpu.machineShare * 100)),
      bare: pick(bare, (r) => r.cpu.machineShare * 100),
    },
  ];
}

function sendDetail(results: { who: string; round: number; r: SendRun }[]): string {
  const lat = (p: Percentiles) => [ms(p.p50), ms(p.p95), ms(p.p99), ms(p.max)];
  return (
    mdTable(
      ['run', 'round', 'msg/s', 'ok', 'failed', 'p50', 'p95', 'p99', 'max', 'statuses'],
      results.map(({ who, round, r }) => [
        who,
        String(round),
        num(r.perSecond),
        String(r.ok),
        String(r.failed),
        ...lat(r.latency),
        JSON.stringify(r.statuses),
      ]),
    ) +
    '\n\nCPU in the measured window, from /proc/<pid>/stat of every process on the machine (scripts/bench/cpu.ts), per stored message. ' +
    '"bench process" is the senders (and the runner relaying service logs); "other" is everything else on the machine.\n\n' +
    cpuTable(results.map(({ who, round, r }) => ({ label: who, round, use: r.cpu, operations: r.ok, unit: 'message' })))
  );
}

export async function runSend(ctx: BenchContext): Promise<SectionResult> {
  const { opts, say } = ctx;
  const users = await createUsers(ctx.db.database.url, opts.send.senders, 'snd');
  const bareServer = await startWorker(new URL('../baselines/insert-server.ts', import.meta.url).pathname, [ctx.db.database.url, String(BARE_POOL)]);
  const project: SendRun[] = [];
  const bare: SendRun[] = [];
  const detail: { who: string; round: number; r: SendRun }[] = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const p = await sendProject(ctx, ctx.cluster, users, round);
      say(`send round ${round}: cluster ${num(p.perSecond)} msg/s (p50 ${ms(p.latency.p50)}, p99 ${ms(p.latency.p99)}, failed ${p.failed})`);
      const b = await drive(`http://127.0.0.1:${String(bareServer.hello.port)}/`, users, ctx, round, false);
      say(`send round ${round}: bare    ${num(b.perSecond)} msg/s (p50 ${ms(b.latency.p50)}, p99 ${ms(b.latency.p99)}, failed ${b.failed})`);
      project.push(p);
      bare.push(b);
      detail.push({ who: 'cluster via nginx', round, r: p }, { who: 'bare http+pg', round, r: b });
    }
  } finally {
    await bareServer.stop();
  }
  return {
    name: 'send',
    rows: sendRows(project, bare),
    detail:
      `${opts.send.senders} closed-loop senders (own user, keep-alive agent each), ${opts.send.warmupMs / 1000} s warm-up + ${opts.send.durationMs / 1000} s measured; ` +
      `cluster: POST /api/messages through nginx (global message); bare: node:http + pg Pool(max ${BARE_POOL}), one INSERT into a table of the same shape, hit directly.\n\n` +
      sendDetail(detail),
    data: { project, bare },
  };
}
