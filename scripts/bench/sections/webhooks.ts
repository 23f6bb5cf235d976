import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { metricSample } from '@chat/shared/testing';
import { parseBenchContent } from '../clients/content.ts';
import { openLoop, type OpenLoopResult } from '../clients/open-loop.ts';
import { restSender, type Sender } from '../clients/senders.ts';
import type { Taken, WebhookReceipt } from '../clients/webhook-receiver.ts';
import { cpuBetween, cpuTable, sampleCpu, type CpuUse } from '../cpu.ts';
import { mdTable, ms, num } from '../format.ts';
import { cpuSeconds } from '../proc.ts';
import { nowMs, percentiles, sleep, spread, type Percentiles } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';
import { startWorker, track, type Worker } from '../worker.ts';

// `webhooks`: outgoing webhook deliveries by the real worker service
// (services/worker) from the commit-ordered log, to a receiver on 127.0.0.1.
// Per round two passes, first with 1 worker process, then with 2 (started for
// the pass, SIGTERM after it). Each of `users` users has one webhook
// (`message.created`, no conversation filter: it hears everything its owner
// sees), and the load is direct messages between those users only, so every
// message is heard by exactly two webhooks, the sender's and the recipient's.
// Message n goes from user n mod N to user (n mod N + 1 + floor(n / N) mod (N - 1))
// mod N: every user sends and receives `rate / N` a second, so every webhook
// hears `2 rate / N` events a second. REST sends through nginx at a fixed rate
// (open loop), then the pass waits until every expected delivery arrived or
// `settleMs` after the last send. Latency is the receipt minus the message's
// `created_at` (the database's clock; the same machine).

const root = path.resolve(import.meta.dirname, '../../..');
/** The worker's defaults, set explicitly so that the shell's environment cannot change what is measured. */
const WORKER_SETTINGS = { WEBHOOK_POLL_INTERVAL: '250ms', WEBHOOK_CONCURRENCY: '16' } as const;
const WORKER_COUNTS = [1, 2] as const;
/** After the workers start: they lease every webhook behind the log's head once (the previous pass's messages it did not hear). */
const WARM_MS = 2_000;
/** After every expected delivery arrived: late duplicates would come now. */
const GRACE_MS = 1_000;
const POLL_MS = 100;

/** A running worker service process. */
interface ServiceWorker {
  name: string;
  pid: number;
  metricsPort: number | undefined;
  /** SIGTERM, SIGKILL after 15 s; resolves with how it exited and how long the stop took. Safe to call twice. */
  stop(): Promise<{ code: number | null; signal: string | null; ms: number }>;
}

async function startServiceWorker(ctx: BenchContext, name: string, log: WriteStream): Promise<ServiceWorker> {
  const env = {
    // As scripts/cluster/cluster.ts gives its services: compiled modules cached across starts.
    NODE_COMPILE_CACHE: path.join(tmpdir(), `chat-node-compile-cache-${process.getuid?.() ?? 'user'}`),
    ...process.env,
    ...ctx.cluster.serviceEnv,
    ...WORKER_SETTINGS,
    PORT: '0',
    METRICS_PORT: '0',
    WORKER_ID: name,
  };
  const child = spawn(process.execPath, ['services/worker/src/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let metricsPort: number | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${name.padEnd(10)} | ${line}\n`);
        // The last line of its start-up (services/worker/src/main.ts): the loops run by then.
        if (!line.includes('"metrics listening"')) return;
        const port = (JSON.parse(line) as { port?: unknown }).port;
        if (typeof port === 'number') metricsPort = port;
        resolve();
      });
    }
    void exited.then(({ code, signal }) => reject(new Error(`${name} exited (${code ?? signal}) before it was ready; log ${log.path as string}`)));
    setTimeout(() => reject(new Error(`${name} not ready in 30 s; log ${log.path as string}`)), 30_000).unref();
  });
  let stopping: ReturnType<ServiceWorker['stop']> | undefined;
  const stop: ServiceWorker['stop'] = () => {
    stopping ??= (async () => {
      const t0 = nowMs();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const how = await exited;
      clearTimeout(killer);
      return { ...how, ms: nowMs() - t0 };
    })();
    return stopping;
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, pid: child.pid as number, metricsPort, stop };
}

/** The worker's own count of attempts by outcome (chat_webhook_attempts_total), or undefined without metrics. */
async function attempts(worker: ServiceWorker): Promise<Record<string, number> | undefined> {
  if (worker.metricsPort === undefined) return undefined;
  try {
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const out: Record<string, number> = {};
    for (const outcome of ['delivered', 'failed', 'refused']) out[outcome] = metricSample(text, 'chat_webhook_attempts_total', { outcome }) ?? 0;
    return out;
  } catch {
    return undefined;
  }
}

/** One webhook per user, through nginx with the user's session; their ids in the users' order. */
async function createWebhooks(lbUrl: string, users: BenchUser[], receiverPort: number): Promise<string[]> {
  const ids: string[] = [];
  const PARALLEL = 10;
  for (let i = 0; i < users.length; i += PARALLEL) {
    const batch = users.slice(i, i + PARALLEL).map(async (user, j) => {
      const res = await fetch(`${lbUrl}/api/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hook/${i + j}`, events: ['message.created'] }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      const id = res.ok ? (JSON.parse(text) as { id?: unknown }).id : undefined;
      if (typeof id !== 'string') throw new Error(`POST /api/webhooks for ${user.username}: HTTP ${res.status} ${text.slice(0, 200)}`);
      return id;
    });
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}

/** Who message number `n` goes to, of `users` users: never its sender (n mod users). */
export const recipientOf = (n: number, users: number): number => ((n % users) + 1 + (Math.floor(n / users) % (users - 1))) % users;

/** What the senders know once answered: the numbers of the messages that were stored. */
interface Ledger {
  stored: number[];
  failed: number;
  failedBy: Record<string, number>;
  lastSentAt: number;
}

/** A REST sender of direct messages to the recipient `recipientOf` names, booked in the ledger once answered. */
function directSender(url: string, user: BenchUser, users: BenchUser[], ledger: Ledger, localAddress: string): Sender {
  return restSender(url, user.token, user.id, localAddress, (content) => {
    const n = parseBenchContent(content)?.seq ?? Number.NaN;
    const recipient = users[recipientOf(n, users.length)] as BenchUser;
    ledger.lastSentAt = nowMs();
    return {
      body: { content, recipient: recipient.id },
      answered(status) {
        if (status >= 200 && status < 300) ledger.stored.push(n);
        else {
          ledger.failed++;
          ledger.failedBy[status] = (ledger.failedBy[status] ?? 0) + 1;
        }
      },
    };
  });
}

export interface WebhookPass {
  round: number;
  workers: number;
  scheduled: number;
  stored: number;
  failedSends: number;
  failedBy: Record<string, number>;
  maxSendLagMs: number;
  /** Deliveries the stored messages should have made (2 per message) and the distinct ones that arrived. */
  expected: number;
  delivered: number;
  lost: number;
  /** Arrivals of an event a webhook already had. */
  duplicated: number;
  /** Arrivals of this pass's messages at a webhook that should not have heard them (or of messages whose send failed). */
  unexpected: number;
  /** Arrivals of an earlier pass's messages while this one ran (that pass's stragglers). */
  earlier: number;
  malformed: number;
  /** Distinct deliveries a second from the first send to the last delivery. */
  perSecond: number;
  /** The same, counting only what arrived while the load ran. */
  perSecondDuringLoad: number;
  /** created_at -> receipt, and send (the sender's clock before the request) -> receipt, ms. */
  latency: Percentiles;
  fromSend: Percentiles;
  /** The median latency of the slowest and the fastest webhook: does any webhook wait longer than the others? */
  slowestHookP50: number;
  fastestHookP50: number;
  /** The last expected delivery's arrival after the last send, ms (NaN when nothing arrived). */
  lagMs: number;
  /** Whether everything expected arrived before the deadline. */
  complete: boolean;
  /** From the first send until every delivery arrived (or the deadline). */
  windowMs: number;
  /** Each worker's CPU share over that window (1 = one core busy the whole window). */
  workerCpu: number[];
  /** Each worker's chat_webhook_attempts_total by outcome at the end of the pass. */
  workerAttempts: Array<Record<string, number> | undefined>;
  /** `webhooks` rows updated per delivery (each lease, skip, acknowledgement and release updates one), from pg_stat_user_tables over the pass. */
  webhookUpdatesPerDelivery: number;
  /** Rows added to webhook_deliveries (attempts recorded) over the pass. */
  attemptRows: number;
  /** How long each SIGTERM took to end its worker, and how it exited. */
  workerStops: Array<{ code: number | null; signal: string | null; ms: number }>;
  cpu: CpuUse;
}

/** Rows PostgreSQL's statistics say were updated in `webhooks` (leases, skips, acknowledgements, releases) and inserted into `webhook_deliveries` (attempts). */
async function tableCounts(db: pg.Client): Promise<{ webhookUpdates: number; attemptRows: number }> {
  const { rows } = await db.query<{ relname: string; n_tup_upd: string; n_tup_ins: string }>(
    `select relname, n_tup_upd, n_tup_ins from pg_stat_user_tables where relname in ('webhooks', 'webhook_deliveries')`,
  );
  const row = (name: string) => rows.find((r) => r.relname === name);
  return {
    webhookUpdates: Number(row('webhooks')?.n_tup_upd ?? Number.NaN),
    attemptRows: Number(row('webhook_deliveries')?.n_tup_ins ?? Number.NaN),
  };
}

/** A backend writes its statistics when its connection ends (at the latest): the workers' have ended a moment after they exited. */
const STATS_SETTLE_MS = 1_000;

interface Setup {
  db: pg.Client;
  users: BenchUser[];
  hookOf: Map<string, number>;
  receiver: Worker;
  runId: string;
  log: WriteStream;
}

async function take(receiver: Worker): Promise<Taken> {
  return receiver.call<Taken>({ cmd: 'take' });
}

async function pass(ctx: BenchContext, setup: Setup, round: number, workerCount: number): Promise<WebhookPass> {
  const o = ctx.opts.webhooks;
  const { users, hookOf, receiver } = setup;
  const tag = `wh${setup.runId}r${round}w${workerCount}`;
  const workers: ServiceWorker[] = [];
  const ledger: Ledger = { stored: [], failed: 0, failedBy: {}, lastSentAt: Number.NaN };
  const receipts: WebhookReceipt[] = [];
  let earlier = 0;
  let malformed = 0;
  const collect = async () => {
    const taken = await take(receiver);
    malformed += taken.malformed;
    for (const r of taken.receipts) {
      if (r.tag === tag) receipts.push(r);
      else earlier++;
    }
  };
  const statsBefore = await tableCounts(setup.db);
  try {
    for (let i = 1; i <= workerCount; i++) workers.push(await startServiceWorker(ctx, `bench-worker-${i}`, setup.log));
    await sleep(WARM_MS);
    await collect();

    const senders = users.map((u, i) => directSender(`${ctx.cluster.lbUrl}/api/messages`, u, users, ledger, loopback(i)));
    const machineBefore = await sampleCpu();
    const cpuBefore = await Promise.all(workers.map((w) => cpuSeconds(w.pid)));
    const t0 = nowMs();
    let sent: OpenLoopResult;
    try {
      sent = await openLoop(senders, { rate: o.rate, durationMs: o.durationMs, tag });
    } finally {
      for (const s of senders) s.close();
    }

    // Every stored message, at the sender's and at the recipient's webhook: `<webhook index>|<message number>`.
    // (User i's webhook is number i.)
    const expected = new Map<string, number>();
    for (const n of ledger.stored) {
      expected.set(`${n % users.length}|${n}`, 0);
      expected.set(`${recipientOf(n, users.length)}|${n}`, 0);
    }
    let seen = 0;
    let counted = 0;
    const first = new Map<string, WebhookReceipt>();
    const tally = () => {
      for (; counted < receipts.length; counted++) {
        const r = receipts[counted] as WebhookReceipt;
        const key = `${hookOf.get(r.webhookId) ?? -1}|${r.n}`;
        const times = expected.get(key);
        if (times === undefined) continue;
        expected.set(key, times + 1);
        if (times === 0) {
          seen++;
          first.set(key, r);
        }
      }
    };
    const deadline = ledger.lastSentAt + o.settleMs;
    for (;;) {
      await collect();
      tally();
      if (seen === expected.size || nowMs() > deadline) break;
      await sleep(POLL_MS);
    }
    const machineAfter = await sampleCpu();
    const cpuAfter = await Promise.all(workers.map((w) => cpuSeconds(w.pid)));
    const windowMs = nowMs() - t0;
    await sleep(GRACE_MS);
    await collect();
    tally();
    const workerAttempts = await Promise.all(workers.map(attempts));
    const workerStops = await Promise.all(workers.map((w) => w.stop()));
    await sleep(STATS_SETTLE_MS);
    const statsAfter = await tableCounts(setup.db);

    const firsts = [...first.values()];
    const lastAt = Math.max(...firsts.map((r) => r.at));
    const byHook = new Map<string, number[]>();
    for (const r of firsts) {
      const list = byHook.get(r.webhookId) ?? [];
      list.push(r.at - r.createdAt);
      byHook.set(r.webhookId, list);
    }
    const hookP50s = [...byHook.values()].map((l) => percentiles(l).p50);
    const duplicated = [...expected.values()].reduce((sum, times) => sum + Math.max(0, times - 1), 0);
    const onTarget = [...expected.values()].reduce((sum, times) => sum + times, 0);
    return {
      round,
      workers: workerCount,
      scheduled: sent.scheduled,
      stored: ledger.stored.length,
      failedSends: ledger.failed,
      failedBy: ledger.failedBy,
      maxSendLagMs: sent.maxLagMs,
      expected: expected.size,
      delivered: seen,
      lost: expected.size - seen,
      duplicated,
      unexpected: receipts.length - onTarget,
      earlier,
      malformed,
      perSecond: firsts.length > 0 ? seen / ((lastAt - t0) / 1000) : 0,
      perSecondDuringLoad: firsts.filter((r) => r.at <= ledger.lastSentAt).length / ((ledger.lastSentAt - t0) / 1000),
      latency: percentiles(firsts.map((r) => r.at - r.createdAt)),
      fromSend: percentiles(firsts.map((r) => r.at - r.sentAt)),
      slowestHookP50: hookP50s.length > 0 ? Math.max(...hookP50s) : Number.NaN,
      fastestHookP50: hookP50s.length > 0 ? Math.min(...hookP50s) : Number.NaN,
      lagMs: firsts.length > 0 ? lastAt - ledger.lastSentAt : Number.NaN,
      complete: seen === expected.size,
      windowMs,
      workerCpu: workers.map((_, i) => ((cpuAfter[i] as number) - (cpuBefore[i] as number)) / (windowMs / 1000)),
      workerAttempts,
      webhookUpdatesPerDelivery: (statsAfter.webhookUpdates - statsBefore.webhookUpdates) / Math.max(seen, 1),
      attemptRows: statsAfter.attemptRows - statsBefore.attemptRows,
      workerStops,
      cpu: cpuBetween(machineBefore, machineAfter),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

const plural = (n: number) => `${n} worker${n === 1 ? '' : 's'}`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function rows(passes: WebhookPass[], offered: number): Row[] {
  const of = (w: number, f: (p: WebhookPass) => number) => spread(passes.filter((p) => p.workers === w).map(f));
  const each = (figure: string, unit: string, f: (p: WebhookPass) => number, target?: string): Row[] =>
    WORKER_COUNTS.map((w) => {
      const project = of(w, f);
      return {
        figure: `webhooks: ${figure}, ${plural(w)}`,
        unit,
        project,
        ...(target === undefined ? {} : { target, met: project.max === 0 }),
      };
    });
  return [
    ...each(`deliveries/s sustained (first send to last delivery; ${num(offered)}/s offered)`, 'deliveries/s', (p) => p.perSecond),
    ...each('latency created_at -> receipt p50', 'ms', (p) => p.latency.p50),
    ...each('latency created_at -> receipt p99', 'ms', (p) => p.latency.p99),
    ...each('deliveries expected (2 per stored message)', '', (p) => p.expected),
    ...each('deliveries received (distinct)', '', (p) => p.delivered),
    ...each('deliveries lost (expected, never received)', '', (p) => p.lost, '0'),
    ...each('deliveries duplicated', '', (p) => p.duplicated, '0'),
    ...each('worker CPU (all workers, first send to last delivery)', '% of a core', (p) => sum(p.workerCpu) * 100),
    ...each('worker CPU per delivery', 'ms', (p) => (sum(p.workerCpu) * p.windowMs) / Math.max(p.delivered, 1)),
    ...each('lag at the end of the load (last send -> last delivery)', 'ms', (p) => p.lagMs),
  ];
}

function detail(ctx: BenchContext, passes: WebhookPass[], logPath: string): string {
  const o = ctx.opts.webhooks;
  const lat = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)} / ${ms(p.max)}`;
  const attemptsCell = (p: WebhookPass) =>
    p.workerAttempts.map((a) => (a ? `${a.delivered ?? 0} ok, ${(a.failed ?? 0) + (a.refused ?? 0)} failed` : 'n/a')).join('; ');
  return [
    `${o.users} users, each with one webhook (\`message.created\`, no conversation filter) pointing at a node:http receiver on 127.0.0.1 ` +
      `(a child process; it answers 204 at once and notes each delivery's arrival, event id, webhook id and message \`created_at\`). ` +
      `Load: ${num(o.rate)} direct messages/s between those users for ${o.durationMs / 1000} s, REST through nginx (open loop, one sender and loopback address per user); ` +
      `message n goes from user n mod ${o.users} to user (n mod ${o.users} + 1 + floor(n / ${o.users}) mod ${o.users - 1}) mod ${o.users}, ` +
      `so each message is heard by exactly two webhooks (${num(2 * o.rate)} deliveries/s offered, ${num((2 * o.rate) / o.users)}/s per webhook). ` +
      `Each pass starts its own worker processes (\`node services/worker/src/main.ts\`, the cluster's environment, ` +
      `WEBHOOK_POLL_INTERVAL=${WORKER_SETTINGS.WEBHOOK_POLL_INTERVAL}, WEBHOOK_CONCURRENCY=${WORKER_SETTINGS.WEBHOOK_CONCURRENCY}, the defaults), ` +
      `waits ${WARM_MS / 1000} s, sends, waits until every expected delivery arrived (at most ${o.settleMs / 1000} s after the last send) and ${GRACE_MS / 1000} s more for late duplicates, ` +
      `and stops them with SIGTERM. The webhooks are made once and kept across passes. Latency is arrival minus the message's \`created_at\` (database clock, same machine); ` +
      `"from send" is arrival minus the sender's clock just before the request. "attempts" are the workers' own chat_webhook_attempts_total; ` +
      `"attempt rows" the rows added to \`webhook_deliveries\`; "\`webhooks\` updates per delivery" the rows of \`webhooks\` updated over the pass (pg_stat_user_tables, read after the workers' connections closed) ` +
      `per delivery: each lease, skip, acknowledgement and release updates one, so 1 would be the acknowledgements alone. Worker logs: ${logPath}.`,
    '',
    mdTable(
      [
        'round',
        'workers',
        'stored / scheduled',
        'expected',
        'received',
        'lost',
        'dup',
        'unexpected',
        'earlier',
        'deliveries/s (during load)',
        'latency p50 / p95 / p99 / max',
        'from send p50 / p99',
        'per-webhook p50 fastest / slowest',
        'lag',
        'worker CPU',
        'attempts (worker metrics)',
        'attempt rows',
        '`webhooks` updates per delivery',
        'SIGTERM -> exit',
      ],
      passes.map((p) => [
        String(p.round),
        String(p.workers),
        `${p.stored} / ${p.scheduled}${p.failedSends > 0 ? ` (failed ${JSON.stringify(p.failedBy)})` : ''}`,
        String(p.expected),
        String(p.delivered),
        `${p.lost}${p.complete ? '' : ' (deadline)'}`,
        String(p.duplicated),
        String(p.unexpected),
        String(p.earlier),
        `${num(p.perSecond)} (${num(p.perSecondDuringLoad)})`,
        lat(p.latency),
        `${ms(p.fromSend.p50)} / ${ms(p.fromSend.p99)}`,
        `${ms(p.fastestHookP50)} / ${ms(p.slowestHookP50)}`,
        ms(p.lagMs),
        p.workerCpu.map((c) => `${(c * 100).toFixed(0)} %`).join(' + '),
        attemptsCell(p),
        String(p.attemptRows),
        p.webhookUpdatesPerDelivery.toFixed(1),
        p.workerStops.map((s) => `${ms(s.ms)} (${s.code ?? s.signal})`).join(', '),
      ]),
    ),
    '',
    'CPU from the first send until every delivery arrived, from /proc/<pid>/stat of every process on the machine (scripts/bench/cpu.ts), per delivery. ' +
      '"worker" is the worker processes; "bench process" includes the receiver and the senders.',
    '',
    cpuTable(passes.map((p) => ({ label: plural(p.workers), round: p.round, use: p.cpu, operations: Math.max(p.delivered, 1), unit: 'delivery' }))),
  ].join('\n');
}

export async function runWebhooks(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.opts.webhooks;
  const logPath = path.join(tmpdir(), `chat-bench-webhook-workers-${Date.now()}.log`);
  const log = createWriteStream(logPath);
  const receiver = await startWorker(new URL('../clients/webhook-receiver.ts', import.meta.url).pathname);
  const db = new pg.Client({ connectionString: ctx.db.database.url });
  const passes: WebhookPass[] = [];
  try {
    await db.connect();
    const users = await createUsers(ctx.db.database.url, o.users, 'whk');
    const hooks = await createWebhooks(ctx.cluster.lbUrl, users, receiver.hello.port as number);
    const setup: Setup = { db, users, hookOf: new Map(hooks.map((id, i) => [id, i])), receiver, runId: randomBytes(3).toString('hex'), log };
    ctx.say(`webhooks: ${users.length} users with a webhook each; worker logs ${logPath}`);
    for (let round = 1; round <= ctx.opts.rounds; round++) {
      for (const workers of WORKER_COUNTS) {
        const p = await pass(ctx, setup, round, workers);
        passes.push(p);
        ctx.say(
          `webhooks round ${round}, ${plural(workers)}: ${p.delivered}/${p.expected} delivered (lost ${p.lost}, duplicated ${p.duplicated}, unexpected ${p.unexpected}), ` +
            `${num(p.perSecond)}/s; latency p50 ${ms(p.latency.p50)}, p99 ${ms(p.latency.p99)}; lag ${ms(p.lagMs)}; ` +
            `worker CPU ${p.workerCpu.map((c) => `${(c * 100).toFixed(0)}%`).join(' + ')}; ${p.webhookUpdatesPerDelivery.toFixed(1)} webhooks row updates per delivery`,
        );
      }
    }
  } finally {
    await db.end().catch(() => undefined);
    await receiver.stop();
    await new Promise((resolve) => log.end(resolve));
  }
  return { name: 'webhooks', rows: rows(passes, 2 * o.rate), detail: detail(ctx, passes, logPath), data: { passes } };
}
