import { Redis } from 'ioredis';
import pg from 'pg';
import { metricSample } from '@chat/shared/testing';
import { parseBenchContent } from '../clients/content.ts';
import { openLoop } from '../clients/open-loop.ts';
import { startReceivers, type ChurnResult, type ReceiverPool, type ReceiverSpec } from '../clients/receiver-pool.ts';
import { restSender, type Sender } from '../clients/senders.ts';
import { REDIS_URL } from '../cluster.ts';
import { mdTable, ms, num } from '../format.ts';
import { memStatus, type MemStatus } from '../proc.ts';
import { sleep, spread, type Percentiles } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';

// `soak`: minutes of steady load (REST sends through nginx, direct messages plus
// a global one now and then, to receivers of both kinds connected through nginx,
// a few of them closed and resumed every minute) while the memory of every
// process is sampled each minute: does it stay put? Only when named
// (`npm run bench -- soak`): the full size takes 30 minutes.

const MINUTE_MS = 60_000;
const MB = 1024 * 1024;

/** A Node service's memory: /proc's view plus V8's (its Prometheus default metrics). */
export interface NodeMemory extends MemStatus {
  heapUsed: number;
  heapTotal: number;
  /** The young generation's committed size (semi-spaces), part of heapTotal. */
  newSpace: number;
  /** Memory of JS objects held outside the V8 heap (Buffers, ArrayBuffers). */
  external: number;
}

export interface MemorySample {
  minute: number;
  /** api-1, api-2, gateway-1, gateway-2. */
  services: Record<string, NodeMemory | undefined>;
  /** nginx master and workers, summed. */
  nginx: MemStatus;
  /** The backends serving the bench database, summed (their RSS counts the shared buffers they touched; anon is their own). */
  postgres: { rss: number; anon: number; backends: number };
  /** The shared Redis server's own figures (INFO memory), other users' keys included. */
  redis: { used: number; rss: number };
}

export interface SoakMinute {
  minute: number;
  scheduled: number;
  stored: number;
  failed: number;
  /** Failed sends by HTTP status (0: no answer, a network error or the 30 s timeout). */
  failedBy: Record<string, number>;
  /** Deliveries some receiver should have had (direct to it, or global) and never got within the settle timeout. */
  lost: number;
  deliveries: number;
  latency: Percentiles;
  maxLagMs: number;
  churn?: ChurnResult;
}

/** What the senders know about one minute's messages once answered. */
interface Ledger {
  pending: number;
  stored: number;
  failed: number;
  globals: number;
  /** Direct messages stored, per receiver. */
  direct: Uint32Array;
  failedBy: Record<string, number>;
}

/** "502: 3, 0: 1": failed sends by status. */
const statuses = (by: Record<string, number>) =>
  Object.entries(by)
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');

const SERVICES = ['api-1', 'api-2', 'gateway-1', 'gateway-2'] as const;

/** A REST sender whose message goes to one receiver (or, every `globalEvery`-th, to everyone), booked in the minute's ledger once answered. */
function directSender(
  url: string,
  user: BenchUser,
  receivers: BenchUser[],
  ledgers: Map<string, Ledger>,
  globalEvery: number,
  localAddress: string,
): Sender {
  return restSender(url, user.token, user.id, localAddress, (content) => {
    const parsed = parseBenchContent(content);
    const ledger = parsed && ledgers.get(parsed.tag);
    if (!parsed || !ledger) throw new Error(`no ledger for ${content.slice(0, 40)}`);
    const to = parsed.seq % globalEvery === 0 ? -1 : Math.floor(Math.random() * receivers.length);
    ledger.pending++;
    return {
      body: to < 0 ? { content } : { content, recipient: (receivers[to] as BenchUser).username },
      answered(status) {
        ledger.pending--;
        if (status >= 200 && status < 300) {
          ledger.stored++;
          if (to < 0) ledger.globals++;
          else ledger.direct[to] = (ledger.direct[to] ?? 0) + 1;
        } else {
          ledger.failed++;
          ledger.failedBy[status] = (ledger.failedBy[status] ?? 0) + 1;
        }
      },
    };
  });
}

async function serviceMemory(ctx: BenchContext, name: (typeof SERVICES)[number]): Promise<NodeMemory | undefined> {
  const [role, n] = name.split('-') as ['api' | 'gateway', string];
  try {
    const pid = role === 'api' ? ctx.cluster.apiPid(Number(n)) : ctx.cluster.gatewayPid(Number(n));
    const port = role === 'api' ? ctx.cluster.apiMetricsPort(Number(n)) : ctx.cluster.gatewayMetricsPort(Number(n));
    const [status, text] = await Promise.all([
      memStatus(pid),
      port === undefined
        ? Promise.resolve('')
        : fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text()),
    ]);
    const metric = (m: string, labels?: Record<string, string>) => metricSample(text, m, labels) ?? Number.NaN;
    return {
      ...status,
      heapUsed: metric('nodejs_heap_size_used_bytes'),
      heapTotal: metric('nodejs_heap_size_total_bytes'),
      newSpace: metric('nodejs_heap_space_size_total_bytes', { space: 'new' }),
      external: metric('nodejs_external_memory_bytes'),
    };
  } catch {
    return undefined;
  }
}

const sumStatus = (xs: MemStatus[]): MemStatus => ({
  rss: xs.reduce((s, x) => s + x.rss, 0),
  anon: xs.reduce((s, x) => s + x.anon, 0),
  file: xs.reduce((s, x) => s + x.file, 0),
  threads: xs.reduce((s, x) => s + x.threads, 0),
});

async function sampleMemory(ctx: BenchContext, minute: number, pgClient: pg.Client, redis: Redis): Promise<MemorySample> {
  const none: MemStatus = { rss: Number.NaN, anon: Number.NaN, file: Number.NaN, threads: Number.NaN };
  const services = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await serviceMemory(ctx, s)] as const)));
  const nginxPids = await ctx.cluster.nginxPids().catch(() => []);
  const nginx = sumStatus(await Promise.all(nginxPids.map((pid) => memStatus(pid).catch(() => none))));
  const { rows } = await pgClient
    .query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [ctx.db.database.name])
    .catch(() => ({ rows: [] as { pid: number }[] }));
  const backends = (await Promise.all(rows.map((r) => memStatus(r.pid).catch(() => undefined)))).filter((m) => m !== undefined);
  const info = await redis.info('memory').catch(() => '');
  const field = (f: string) => Number(new RegExp(`^${f}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return {
    minute,
    services,
    nginx,
    postgres: { rss: backends.reduce((s, b) => s + b.rss, 0), anon: backends.reduce((s, b) => s + b.anon, 0), backends: backends.length },
    redis: { used: field('used_memory'), rss: field('used_memory_rss') },
  };
}

/** Waits for the minute's answers, then for its deliveries, and counts what some receiver never got. */
async function settleMinute(
  pool: ReceiverPool,
  tag: string,
  ledger: Ledger,
  receivers: number,
): Promise<Omit<SoakMinute, 'minute' | 'scheduled' | 'maxLagMs'>> {
  const deadline = Date.now() + 35_000;
  while (ledger.pending > 0 && Date.now() < deadline) await sleep(100);
  let expected = 0;
  for (let i = 0; i < receivers; i++) expected += (ledger.direct[i] ?? 0) + ledger.globals;
  const got = await pool.settle(tag, expected, 20_000);
  let lost = 0;
  for (let i = 0; i < receivers; i++) lost += Math.max(0, (ledger.direct[i] ?? 0) + ledger.globals - (got.distinctPerReceiver[i] ?? 0));
  const failedBy = { ...ledger.failedBy, ...(ledger.pending > 0 ? { unanswered: ledger.pending } : {}) };
  return { stored: ledger.stored, failed: ledger.failed + ledger.pending, failedBy, lost, deliveries: got.received, latency: got.latency };
}

function receiverSpecsViaNginx(users: BenchUser[], lbUrl: string): ReceiverSpec[] {
  const wsBase = lbUrl.replace(/^http/, 'ws');
  return users.map((u, i) =>
    i % 2 === 0
      ? { kind: 'ws', url: `${wsBase}/api/ws/connect?token=${encodeURIComponent(u.token)}`, localAddress: loopback(i) }
      : { kind: 'sio', url: lbUrl, token: u.token, localAddress: loopback(i) },
  );
}

export async function runSoak(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.opts.soak;
  const users = await createUsers(ctx.db.database.url, o.receivers + o.senders, 'soak');
  const receivers = users.slice(0, o.receivers);
  const pool = await startReceivers(receiverSpecsViaNginx(receivers, ctx.cluster.lbUrl));
  const ledgers = new Map<string, Ledger>();
  const senders = users
    .slice(o.receivers)
    .map((u, i) => directSender(`${ctx.cluster.lbUrl}/api/messages`, u, receivers, ledgers, o.globalEvery, loopback(o.receivers + i)));
  const pgClient = new pg.Client({ connectionString: ctx.db.database.url });
  await pgClient.connect();
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const samples: MemorySample[] = [];
  const minutes: SoakMinute[] = [];
  const background: Promise<void>[] = [];
  let drops: number | undefined;
  const say = (s: MemorySample) => {
    const svc = (name: string) => {
      const m = s.services[name];
      return m ? `${name} ${num(m.rss / MB)}/${num(m.heapUsed / MB)}/${num(m.heapTotal / MB)}/${num(m.external / MB)}` : `${name} n/a`;
    };
    ctx.say(`soak minute ${s.minute} memory (RSS/heap used/heap total/external MB): ${SERVICES.map(svc).join('; ')}; nginx ${num(s.nginx.rss / MB)}`);
  };
  try {
    const first = await sampleMemory(ctx, 0, pgClient, redis);
    samples.push(first);
    say(first);
    const run = Math.random().toString(36).slice(2, 6);
    for (let minute = 1; minute <= o.minutes; minute++) {
      const tag = `soak-${run}-${minute}`;
      const ledger: Ledger = { pending: 0, stored: 0, failed: 0, globals: 0, direct: new Uint32Array(o.receivers), failedBy: {} };
      ledgers.set(tag, ledger);
      // Back to back, so the send schedule runs on across minutes; answers are followed through the ledger.
      const sent = await openLoop(senders, { rate: o.rate, durationMs: MINUTE_MS, tag, answerTimeoutMs: 0 });
      background.push(
        (async () => {
          const sample = await sampleMemory(ctx, minute, pgClient, redis);
          samples.push(sample);
          say(sample);
        })(),
      );
      const churn = minute < o.minutes && o.churnPerMinute > 0 ? pool.churn(o.churnPerMinute) : Promise.resolve(undefined);
      background.push(
        (async () => {
          const [settled, churned] = await Promise.all([settleMinute(pool, tag, ledger, o.receivers), churn]);
          ledgers.delete(tag);
          const m: SoakMinute = { minute, scheduled: sent.scheduled, maxLagMs: sent.maxLagMs, ...settled, ...(churned ? { churn: churned } : {}) };
          minutes.push(m);
          ctx.say(
            `soak minute ${minute}: stored ${m.stored}/${m.scheduled}, failed ${m.failed}${m.failed > 0 ? ` (${statuses(m.failedBy)})` : ''}, lost ${m.lost}, ${num(m.deliveries)} deliveries p50 ${ms(m.latency.p50)} p99 ${ms(m.latency.p99)}` +
              (churned
                ? `; churn reopened ${churned.reopened} (resumed ${churned.resumed}), failed ${churned.failed}${churned.errors.length ? ` (${churned.errors.join('; ')})` : ''}`
                : ''),
          );
        })(),
      );
    }
    await Promise.all(background);
    drops = await pool.drops();
  } finally {
    for (const s of senders) s.close();
    await pool.close();
    await pgClient.end().catch(() => undefined);
    redis.disconnect();
  }
  samples.sort((a, b) => a.minute - b.minute);
  minutes.sort((a, b) => a.minute - b.minute);
  return {
    name: 'soak',
    rows: soakRows(ctx, samples, minutes, drops ?? Number.NaN),
    detail: soakDetail(ctx, samples, minutes),
    data: { samples, minutes },
  };
}

function soakRows(ctx: BenchContext, samples: MemorySample[], minutes: SoakMinute[], drops: number): Row[] {
  const o = ctx.opts.soak;
  const ref = samples.find((s) => s.minute === o.referenceMinute);
  const end = samples.at(-1);
  const rows: Row[] = [];
  for (const name of SERVICES) {
    const a = ref?.services[name]?.rss ?? Number.NaN;
    const b = end?.services[name]?.rss ?? Number.NaN;
    rows.push(
      {
        figure: `soak: ${name} RSS at minute ${o.referenceMinute}`,
        unit: 'MB',
        project: spread([a / MB]),
      },
      { figure: `soak: ${name} RSS at the end (minute ${end?.minute ?? '?'})`, unit: 'MB', project: spread([b / MB]) },
      {
        figure: `soak: ${name} RSS end / minute ${o.referenceMinute}`,
        unit: '',
        project: spread([b / a]),
        target: '<= 1.3',
        met: Number.isFinite(b / a) ? b / a <= 1.3 : undefined,
      },
    );
  }
  const apiMax = Math.max(...samples.flatMap((s) => [s.services['api-1']?.rss ?? 0, s.services['api-2']?.rss ?? 0]));
  rows.push({
    figure: 'soak: largest API replica RSS (any minute)',
    unit: 'MB',
    project: spread([apiMax / MB]),
    target: '<= 250 MB',
    met: apiMax / MB <= 250,
  });
  const total = (f: (m: SoakMinute) => number) => minutes.reduce((s, m) => s + f(m), 0);
  rows.push(
    { figure: 'soak: messages sent', unit: '', project: spread([total((m) => m.scheduled)]) },
    { figure: 'soak: messages stored (2xx)', unit: '', project: spread([total((m) => m.stored)]) },
    {
      figure: 'soak: deliveries lost (stored, never received)',
      unit: '',
      project: spread([total((m) => m.lost)]),
      target: '0',
      met: total((m) => m.lost) === 0,
    },
    { figure: 'soak: receivers closed by the server (not churn)', unit: '', project: spread([drops]) },
  );
  return rows;
}

function soakDetail(ctx: BenchContext, samples: MemorySample[], minutes: SoakMinute[]): string {
  const o = ctx.opts.soak;
  const mb = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : num(n / MB));
  const svc = (s: MemorySample, name: string) => {
    const m = s.services[name];
    return m ? `${mb(m.rss)} / ${mb(m.heapUsed)}` : 'n/a';
  };
  const breakdown = (name: string) =>
    mdTable(
      ['minute', 'RSS', 'anon', 'file', 'heap total', 'heap used', 'new space', 'external', 'anon - heap total - external', 'threads'],
      samples.map((s) => {
        const m = s.services[name];
        return [
          String(s.minute),
          mb(m?.rss),
          mb(m?.anon),
          mb(m?.file),
          mb(m?.heapTotal),
          mb(m?.heapUsed),
          mb(m?.newSpace),
          mb(m?.external),
          mb(m ? m.anon - m.heapTotal - m.external : undefined),
          num(m?.threads),
        ];
      }),
    );
  return (
    `${o.minutes} minute(s) of ${o.rate} msg/s over REST through nginx (open loop, round robin over ${o.senders} senders with a user each): ` +
    `direct messages to a receiver picked at random, every ${o.globalEvery}th message global. ${o.receivers} receivers (half plain WS, half Socket.IO, ` +
    `a user each, through nginx, one client process); after each minute ${o.churnPerMinute} receivers picked at random are closed and opened again ` +
    "resuming from their last cursor. Lost = a stored message some receiver it was addressed to never got (20 s after the minute's answers). " +
    "Memory is sampled before the load (minute 0) and after each minute: RSS and its anonymous and file-backed parts from /proc/<pid>/status, V8's heap " +
    "and external memory from each service's /metrics (prom-client's default metrics). MB = MiB.\n\n" +
    '### Messages per minute\n\n' +
    mdTable(
      ['minute', 'stored', 'failed', 'lost', 'deliveries', 'p50', 'p99', 'max', 'generator lag', 'churn reopened (resumed) / failed'],
      minutes.map((m) => [
        String(m.minute),
        `${num(m.stored)}/${num(m.scheduled)}`,
        m.failed > 0 ? `${num(m.failed)} (${statuses(m.failedBy)})` : '0',
        num(m.lost),
        num(m.deliveries),
        ms(m.latency.p50),
        ms(m.latency.p99),
        ms(m.latency.max),
        ms(m.maxLagMs),
        m.churn ? `${m.churn.reopened} (${m.churn.resumed}) / ${m.churn.failed}` : '-',
      ]),
    ) +
    '\n\n### Memory per minute (RSS / V8 heap used, MB)\n\n' +
    mdTable(
      ['minute', ...SERVICES, 'nginx RSS', 'postgres backends RSS (anon)', 'redis used (rss), shared server'],
      samples.map((s) => [
        String(s.minute),
        ...SERVICES.map((n) => svc(s, n)),
        mb(s.nginx.rss),
        `${mb(s.postgres.rss)} (${mb(s.postgres.anon)}), ${s.postgres.backends} backends`,
        `${mb(s.redis.used)} (${mb(s.redis.rss)})`,
      ]),
    ) +
    SERVICES.filter((n) => n.startsWith('api-'))
      .map((n) => `\n\n### ${n}: where the RSS is (MB)\n\n${breakdown(n)}`)
      .join('') +
    '\n\n### gateway-1: where the RSS is (MB)\n\n' +
    breakdown('gateway-1')
  );
}
