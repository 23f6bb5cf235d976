import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseBenchContent } from '../../scripts/bench/clients/content.ts';
import { startReceivers, type ReceiverPool, type ReceiverSpec, type TagStats } from '../../scripts/bench/clients/receiver-pool.ts';
import { ackedWsSender, restSender, sioSender, type Sender } from '../../scripts/bench/clients/senders.ts';
import { ms, num } from '../../scripts/bench/format.ts';
import { nowMs, percentiles, sleep, type Percentiles } from '../../scripts/bench/stats.ts';
import { loopback, registerUsers, type BenchUser } from '../../scripts/bench/users.ts';
import { killAllWorkers } from '../../scripts/bench/worker.ts';

// What the Node load scenarios (smoke.ts, ramp.ts) share: settings from the
// environment, the cluster's address, users over REST, listeners and senders built
// from the bench's clients (scripts/bench/clients/), the figures k6 kept as
// metrics, thresholds, the printed summary and its JSON, and the exit code (99
// when a threshold failed, as k6's).

const root = path.resolve(import.meta.dirname, '../..');

// ---- settings ---------------------------------------------------------------------------

/** `-e NAME=value` arguments, as `k6 run` takes them, go into the environment; anything else is refused. */
function applyArgs(argv: string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const pair = argv[i] === '-e' ? argv[++i] : undefined;
    const eq = pair?.indexOf('=') ?? -1;
    if (pair === undefined || eq < 1) throw new Error(`unknown argument ${argv[i] ?? ''}: settings are environment variables or -e NAME=value`);
    process.env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
}

/** A whole number >= 0 from the environment. */
export function intEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`);
  return n;
}

/** A number >= 0 from the environment (fractions allowed). */
export function numEnv(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got "${value}"`);
  return n;
}

/** Eight characters that tag this run's users and messages. */
export const newRunId = () => randomBytes(4).toString('hex');

export interface Target {
  /** nginx, http:// (BASE_URL). */
  baseUrl: string;
  wsUrl: string;
  /**
   * Clients connect from their own loopback addresses (127.0.0.2, ...): nginx
   * guards each address (200 requests/s), and from one address a load scenario
   * would measure that guard. Only for a loopback target on Linux (all of
   * 127.0.0.0/8 is loopback there); SPREAD_ADDRESSES=0 turns it off.
   */
  spread: boolean;
}

export function target(): Target {
  const url = new URL(process.env.BASE_URL || 'http://localhost:8080');
  if (url.protocol !== 'http:') throw new Error(`BASE_URL must be an http:// address (the driver's REST client speaks plain HTTP), got ${url.href}`);
  const local = url.hostname === 'localhost' || url.hostname.startsWith('127.');
  const spread = local && process.platform === 'linux' && process.env.SPREAD_ADDRESSES !== '0';
  // From a 127.x source address, `localhost` must not resolve to ::1.
  if (spread && url.hostname === 'localhost') url.hostname = '127.0.0.1';
  const baseUrl = url.href.replace(/\/+$/, '');
  return { baseUrl, wsUrl: baseUrl.replace(/^http/, 'ws'), spread };
}

/** Source address of client `i` (undefined: the system's choice). */
const addressOf = (t: Target, i: number) => (t.spread ? loopback(i) : undefined);

export const say = (scenario: string, line: string) => console.log(`${scenario.padEnd(10)} | ${line}`);

// ---- figures ----------------------------------------------------------------------------

/** Passes and fails, like a k6 Rate. */
export class Rate {
  passes = 0;
  fails = 0;
  add(ok: boolean): void {
    if (ok) this.passes++;
    else this.fails++;
  }
  get total(): number {
    return this.passes + this.fails;
  }
  /** Share of passes; NaN with no samples. */
  get rate(): number {
    return this.total === 0 ? Number.NaN : this.passes / this.total;
  }
}

/** Named checks, each a Rate; `all` merges them, as k6's `checks`. */
export class Checks {
  readonly byName = new Map<string, Rate>();
  add(name: string, ok: boolean): void {
    let r = this.byName.get(name);
    if (!r) this.byName.set(name, (r = new Rate()));
    r.add(ok);
  }
  get all(): Rate {
    const all = new Rate();
    for (const r of this.byName.values()) {
      all.passes += r.passes;
      all.fails += r.fails;
    }
    return all;
  }
}

export type SendKind = 'rest' | 'ws' | 'socket.io';
export type ListenKind = 'ws' | 'socket.io';

/** One send: which tag (step) it was part of, its sender's kind, whether it was stored, and how long the answer took. */
export interface SendResult {
  tag: string;
  kind: SendKind;
  ok: boolean;
  ms: number;
}

/** Every send's outcome, through Sender.send's `done`. */
export class SendLog {
  readonly results: SendResult[] = [];
  private pending = 0;

  /** The same sender, with each send's answer recorded (and REST answers counted as HTTP requests in `http`). */
  follow(sender: Sender, kind: SendKind, http?: Rate): Sender {
    return {
      ...sender,
      send: (content, done) => {
        const tag = parseBenchContent(content)?.tag ?? '';
        const t0 = nowMs();
        this.pending++;
        sender.send(content, (ok) => {
          this.pending--;
          this.results.push({ tag, kind, ok, ms: nowMs() - t0 });
          if (kind === 'rest') http?.add(ok);
          done?.(ok);
        });
      },
    };
  }

  /** Waits until every send was answered (each sender gives up after 30 s) or `timeoutMs` passed. */
  async answered(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await sleep(20);
  }

  /** Stored messages per tag. */
  storedByTag(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.results) if (r.ok) m.set(r.tag, (m.get(r.tag) ?? 0) + 1);
    return m;
  }
}

// ---- users, listeners, senders ---------------------------------------------------------

/** `GET /health` must answer 200 (counted in `http`). */
export async function checkHealth(t: Target, http: Rate): Promise<void> {
  const res = await fetch(`${t.baseUrl}/health`, { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => {
    throw new Error(`${t.baseUrl}/health: ${error instanceof Error ? error.message : String(error)}: is the cluster up?`);
  });
  http.add(res.status === 200);
  if (res.status !== 200) throw new Error(`${t.baseUrl}/health answered ${res.status}: is the cluster up?`);
}

/** Registers and logs in `lt_<run id>_<role><i>` for each role's count, over REST (counted in `http`). */
export async function createUsers<R extends string>(
  t: Target,
  runId: string,
  counts: Record<R, number>,
  http: Rate,
): Promise<Record<R, BenchUser[]>> {
  const roles = Object.keys(counts) as R[];
  const names = roles.flatMap((role) => Array.from({ length: counts[role] }, (_, i) => `lt_${runId}_${role}${i}`));
  const users = await registerUsers(t.baseUrl, names, { onRequest: (ok) => http.add(ok) });
  const out = {} as Record<R, BenchUser[]>;
  let at = 0;
  for (const role of roles) {
    out[role] = users.slice(at, at + counts[role]);
    at += counts[role];
  }
  return out;
}

/** Listeners of one kind in a receiver process of their own (scripts/bench/clients/receivers.ts), through nginx. */
export async function startListeners(t: Target, runId: string, kind: ListenKind, users: BenchUser[], addressOffset: number): Promise<ReceiverPool> {
  const specs: ReceiverSpec[] = users.map((u, i) => {
    const localAddress = addressOf(t, addressOffset + i);
    const spec: ReceiverSpec =
      kind === 'ws'
        ? { kind: 'ws', url: `${t.wsUrl}/api/ws/connect?token=${encodeURIComponent(u.token)}` }
        : // client_id: nginx hashes it to pick the gateway, so listeners spread over the gateways.
          { kind: 'sio', url: `${t.baseUrl}/?client_id=lt-${runId}-${kind}-${i}`, token: u.token };
    return localAddress ? { ...spec, localAddress } : spec;
  });
  return startReceivers(specs, { tolerateFailures: true });
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not connected after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Socket senders of one kind through nginx: plain WS frames with a client_msg_id
 * (acknowledged), or Socket.IO emits with an ack. Each connect counts in `connects`;
 * one that fails within 15 s is left out.
 */
export async function socketSenders(t: Target, runId: string, kind: ListenKind, users: BenchUser[], connects: Rate): Promise<Sender[]> {
  const settled = await Promise.allSettled(
    users.map((u, i) =>
      withTimeout(
        kind === 'ws'
          ? ackedWsSender(`${t.wsUrl}/api/ws/connect?token=${encodeURIComponent(u.token)}`)
          : sioSender(`${t.baseUrl}/?client_id=lt-${runId}-send-${i}`, u.token),
        15_000,
        `${kind} sender ${u.username}`,
      ),
    ),
  );
  const senders: Sender[] = [];
  for (const s of settled) {
    connects.add(s.status === 'fulfilled');
    if (s.status === 'fulfilled') senders.push(s.value);
    else console.warn(`${kind} sender: ${s.reason instanceof Error ? s.reason.message : String(s.reason)}`);
  }
  return senders;
}

/** REST senders through nginx, one per user, each from its own address when spreading. */
export const restSenders = (t: Target, users: BenchUser[], addressOffset: number): Sender[] =>
  users.map((u, i) => restSender(`${t.baseUrl}/api/messages`, u.token, u.id, addressOf(t, addressOffset + i)));

/** What one kind of listener got of each tag. */
export interface Received {
  kind: ListenKind;
  pool: ReceiverPool;
  byTag: Map<string, TagStats>;
  /** Listeners that connected. */
  live: number;
  drops: number;
}

/**
 * Waits (until `deadline`, epoch ms) for each tag's stored messages to reach every
 * listener of the pool, then takes its figures, with every latency.
 */
export async function collect(kind: ListenKind, pool: ReceiverPool, stored: Map<string, number>, deadline: number): Promise<Received> {
  const byTag = new Map<string, TagStats>();
  for (const [tag, n] of stored)
    byTag.set(tag, await pool.settle(tag, n * pool.connected.live, Math.max(0, deadline - Date.now()), { samples: true }));
  return { kind, pool, byTag, live: pool.connected.live, drops: await pool.drops() };
}

/** Deliveries of one kind over `tags`: distinct messages, duplicates, lost (stored, never received by a live listener), malformed, latencies. */
export function deliveries(r: Received, stored: Map<string, number>, tags: string[]) {
  let distinct = 0;
  let duplicated = 0;
  let lost = 0;
  let malformed = 0;
  const samples: number[] = [];
  const perListener = Array.from({ length: r.pool.size }, () => 0);
  for (const tag of tags) {
    const s = r.byTag.get(tag);
    if (!s) continue;
    const n = stored.get(tag) ?? 0;
    const seen = s.distinctPerReceiver.reduce((a, b) => a + b, 0);
    distinct += seen;
    duplicated += s.received - seen;
    malformed += s.malformed;
    // A listener that never connected got nothing: the connect figure reports it, not the loss.
    const missing = s.distinctPerReceiver.reduce((a, got) => a + Math.max(0, n - got), 0);
    lost += Math.max(0, missing - (r.pool.size - r.live) * n);
    s.distinctPerReceiver.forEach((got, i) => (perListener[i] = (perListener[i] ?? 0) + got));
    samples.push(...(s.samples ?? []));
  }
  return { distinct, duplicated, lost, malformed, samples, perListener };
}

// ---- thresholds and the summary --------------------------------------------------------

export interface Threshold {
  metric: string;
  expression: string;
  /** The value it looked at, as printed. */
  value: string;
  ok: boolean;
}

export const pct = (rate: number) => (Number.isFinite(rate) ? `${(rate * 100).toFixed(2)}%` : 'n/a');
export const rateOf = (r: Rate) => `rate=${pct(r.rate)} (${num(r.passes)} of ${num(r.total)})`;
export const latencyOf = (values: number[]) => {
  const p: Percentiles = percentiles(values);
  return p.count === 0 ? 'none' : `p50 ${ms(p.p50)}, p95 ${ms(p.p95)}, p99 ${ms(p.p99)}, max ${ms(p.max)} (${num(p.count)})`;
};

/** `http_req_failed` below 1%, as both k6 scripts: every request the driver made (health, users, REST sends). */
export function httpFailed(http: Rate): Threshold {
  const rate = http.total === 0 ? 0 : http.fails / http.total;
  return {
    metric: 'http_req_failed',
    expression: 'rate<0.01',
    value: `rate=${pct(rate)} (${num(http.fails)} of ${num(http.total)})`,
    ok: rate < 0.01,
  };
}

/** `checks` above 99%, as both k6 scripts. */
export function checksPassed(checks: Checks): Threshold {
  const all = checks.all;
  return { metric: 'checks', expression: 'rate>0.99', value: rateOf(all), ok: all.rate > 0.99 };
}

/** The checks of one listener kind, as the k6 listeners made them: connected, received messages, well-formed frames, and stayed connected. */
export function listenerChecks(checks: Checks, r: Received, perListener: number[], malformed: number): void {
  for (let i = 0; i < r.pool.size; i++) checks.add(`${r.kind} listener: connected`, i < r.live);
  for (let i = 0; i < r.pool.size; i++) checks.add(`${r.kind} listener: received messages`, (perListener[i] ?? 0) > 0);
  checks.add(`${r.kind} listeners: frames well-formed`, malformed === 0);
  checks.add(`${r.kind} listeners: none dropped`, r.drops === 0);
}

/** One line per check that failed somewhere. */
export const failingChecks = (checks: Checks) =>
  [...checks.byName].filter(([, r]) => r.fails > 0).map(([name, r]) => `${name}: ${r.fails} of ${r.total} failed`);

/** Per-check passes and fails, for the JSON report. */
export const checksReport = (checks: Checks) =>
  Object.fromEntries([...checks.byName].map(([name, r]) => [name, { passes: r.passes, fails: r.fails }]));

/**
 * Prints the summary (header, thresholds, figures, the scenario's own lines),
 * writes the JSON report to SUMMARY_FILE (default loadtest/results/<scenario>-summary.json)
 * and returns the exit code: 0, or 99 when a threshold failed (as k6).
 */
export function finish(o: {
  scenario: string;
  header: string[];
  thresholds: Threshold[];
  figures: string[];
  extra?: string[];
  report: Record<string, unknown>;
}): number {
  const failed = o.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression}`);
  const lines = ['', `  ${o.scenario} (Node load driver)`, ...o.header.map((l) => `  ${l}`), '', '  THRESHOLDS'];
  for (const t of o.thresholds) lines.push(`    ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric} '${t.expression}' ${t.value}`);
  lines.push('', '  FIGURES', ...o.figures.map((l) => `    ${l}`), '', ...(o.extra ?? []));
  if (o.extra?.length) lines.push('');
  if (failed.length > 0) lines.push(`  ${failed.length} threshold(s) failed: ${failed.join('; ')}`, '');
  const file = process.env.SUMMARY_FILE || path.join(root, 'loadtest', 'results', `${o.scenario}-summary.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify(
      {
        scenario: o.scenario,
        driver: 'node',
        finished_at: new Date().toISOString(),
        thresholds: o.thresholds,
        thresholds_failed: failed,
        ...o.report,
      },
      null,
      2,
    ),
  );
  lines.push(`  summary: ${path.relative(process.cwd(), file)}`, '');
  console.log(lines.join('\n'));
  return failed.length > 0 ? 99 : 0;
}

/**
 * The command-line entry of a scenario: `-e NAME=value` arguments, then `run`,
 * then exit with its code (1 when it could not run at all). Ctrl-C and SIGTERM
 * stop the receiver processes and exit with 130.
 */
export function main(scenario: string, run: () => Promise<number>): void {
  const stop = () => {
    killAllWorkers();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  Promise.resolve()
    .then(() => {
      applyArgs(process.argv.slice(2));
      return run();
    })
    .then(
      (code) => process.exit(code),
      (error: unknown) => {
        say(scenario, `failed: ${error instanceof Error ? error.message : String(error)}`);
        killAllWorkers();
        process.exit(1);
      },
    );
}
