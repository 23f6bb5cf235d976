import type { ClusterLog } from './cluster-log.ts';
import type { CursorCodec } from '@chat/shared/chat';
import { changesOf, readPositionsLost, storedFor } from './database-checks.ts';
import { seconds, type Fault, type FaultContext } from './fault.ts';
import type { Load } from './load.ts';
import type { FaultOptions } from './options.ts';
import type { Receiver } from './receiver.ts';
import type { SentMessage, Tracker } from './tracker.ts';
import { until } from './transport.ts';

/** One row of the table, plus what to say under it. */
export interface PhaseRow {
  name: string;
  sent: number;
  acked: number;
  stored: number;
  /** Change entries (edits, reactions, deletions) the log holds for the phase's messages: each must reach its audience once. */
  changes: number;
  lost: number;
  duplicated: number;
  recovered: number;
  /** From injection until every receiver had every acknowledged message; undefined if some never arrived. */
  recoveryMs: number | undefined;
  slowestAckMs: number;
  retried: number;
  notes: string[];
  failures: string[];
}

export interface PhaseContext {
  tracker: Tracker;
  load: Load;
  receivers: Receiver[];
  faults: FaultContext;
  opts: FaultOptions;
  databaseUrl: string;
  cursors: CursorCodec;
  log: ClusterLog;
}

/**
 * A delivery later than this after its acknowledgement counts as delayed;
 * normal fan-out takes milliseconds.
 */
const DELAYED_MS = 500;
/** Delayed messages acknowledged within this of the disruption so far belong to it; later ones are noise of their own. */
const CHAIN_GAP_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const allLive = (receivers: Receiver[]) => receivers.every((r) => r.isLive());

/** Load, the fault halfway through, more load, then settle and count. */
export async function runPhase(ctx: PhaseContext, phase: string, fault: Fault | undefined): Promise<PhaseRow> {
  const { tracker, receivers, log, opts } = ctx;
  const failures: string[] = [];
  const notes: string[] = [];
  if (!(await until(() => allLive(receivers), 30_000)))
    failures.push(`${receivers.filter((r) => !r.isLive()).length} receivers not connected at the start`);
  const startedAt = Date.now();
  const drops = receivers.reduce((n, r) => n + r.drops(), 0);
  log.note(`phase ${phase}: load starts`);

  ctx.load.start(phase);
  await sleep(opts.phaseMs / 2);
  const injectedAt = Date.now();
  const loadEnds = injectedAt + opts.phaseMs / 2;
  if (fault) {
    log.note(`phase ${phase}: injecting ${fault.name}`);
    const [outcome] = await Promise.all([fault.inject(ctx.faults, loadEnds), sleep(opts.phaseMs / 2)]);
    notes.push(...outcome.notes);
    failures.push(...outcome.failures);
  } else {
    await sleep(opts.phaseMs / 2);
  }
  await ctx.load.stop();
  log.note(`phase ${phase}: load stopped, settling`);

  const settleBy = Date.now() + opts.settleMs;
  const settled = await until(() => tracker.incomplete(phase).length === 0 && allLive(receivers), opts.settleMs);
  const mine = tracker.sent.filter((m) => m.phase === phase);
  const acked = mine.filter((m) => m.ackedAt !== undefined);
  // Every change the log holds for the phase's messages (acknowledged or not: committed is what counts) must reach their audiences.
  const changes = (
    await changesOf(
      ctx.databaseUrl,
      acked.map((m) => m.id ?? ''),
    )
  ).map((c) => ({
    messageId: c.messageId,
    cursor: ctx.cursors.forMessage(c.seq),
  }));
  const changesSettled = await until(() => tracker.changeStats(changes).missing.length === 0, Math.max(0, settleBy - Date.now()));
  log.note(`phase ${phase}: ${settled && changesSettled ? 'settled' : 'did not settle'}`);
  const incomplete = tracker.incomplete(phase);
  const changeStats = tracker.changeStats(changes);
  const { stored, storedTwice } = await storedFor(
    ctx.databaseUrl,
    mine.map((m) => m.key),
  );
  const { duplicated, replayed } = tracker.receiptStats(phase);

  const delayed = acked.filter((m) => (m.completeAt ?? 0) - (m.ackedAt ?? 0) > DELAYED_MS && (m.completeAt ?? 0) >= injectedAt);
  const recoveredAt = endOfDisruption(delayed, injectedAt);
  const reconnects = receivers.reduce((n, r) => n + r.drops(), 0) - drops;
  if (reconnects > 0) notes.push(`${reconnects} receiver connections dropped and resumed`);
  const gaveUp = mine.filter((m) => m.ackedAt === undefined);
  if (gaveUp.length > 0) notes.push(`${gaveUp.length} sends never acknowledged (last failure: ${gaveUp[0]?.lastFailure ?? '?'})`);
  const changed = acked.filter((m) => m.change);
  const changeGaveUp = changed.filter((m) => m.change?.ackedAt === undefined);
  notes.push(
    `${changes.length} changes in the log (${['edit', 'react', 'delete'].map((k) => `${changed.filter((m) => m.change?.kind === k).length} ${k}`).join(', ')} attempted` +
      `${changeGaveUp.length > 0 ? `, ${changeGaveUp.length} never acknowledged (last failure: ${changeGaveUp[0]?.change?.lastFailure ?? '?'})` : ''})`,
  );
  // Every read position acknowledged so far, this phase's and the earlier ones': each must have survived this fault too.
  const reads = [...tracker.reads.values()];
  const readsLost = await readPositionsLost(ctx.databaseUrl, reads);
  notes.push(
    `${tracker.readMarks.get(phase) ?? 0} read marks acknowledged; of the latest positions acknowledged so far (${reads.length} users and conversations), ` +
      `${reads.length - readsLost.length} stored at or past`,
  );
  for (const r of readsLost.slice(0, 10)) failures.push(`read position lost: ${r}`);
  notes.push(...processEvents(log, startedAt));
  if (delayed.length > 0) notes.push(describeDelayed(tracker, delayed));

  for (const a of tracker.anomalies.filter((x) => x.at >= startedAt)) failures.push(`${a.receiver}: ${a.what}`);
  if (incomplete.length > 0) failures.push(...describeLost(incomplete, injectedAt));
  if (storedTwice > 0) failures.push(`${storedTwice} idempotency keys stored more than once`);
  if (duplicated > 0) failures.push(`${duplicated} deliveries of a message id a receiver already had`);
  if (changeStats.duplicated > 0) failures.push(`${changeStats.duplicated} deliveries of a change a receiver already had`);
  for (const m of changeStats.missing.slice(0, 10)) failures.push(`lost change of ${m.messageId} at ${m.receivers.slice(0, 6).join(', ')}`);
  for (const e of tracker.early.filter((x) => x.at >= startedAt)) failures.push(`${e.receiver} got a change of ${e.id} before the message`);
  for (const m of tracker.misdelivered.filter((x) => x.at >= startedAt)) {
    failures.push(`misdelivered: ${m.receiver} got ${m.id} (${m.content}), not meant for it`);
  }

  return {
    name: fault?.name ?? 'none (baseline)',
    sent: mine.length,
    acked: acked.length,
    stored,
    changes: changes.length,
    lost: incomplete.length + changeStats.missing.length + readsLost.length,
    duplicated: duplicated + storedTwice + changeStats.duplicated,
    recovered: replayed,
    recoveryMs: incomplete.length > 0 ? undefined : recoveredAt - injectedAt,
    slowestAckMs: Math.max(0, ...acked.map((m) => (m.ackedAt ?? 0) - m.firstAttemptAt)),
    retried: mine.filter((m) => m.attempts > 1).length,
    notes,
    failures,
  };
}

/** Exits the suite did not cause (it only ever sends SIGKILL), and error-level lines the replicas logged, during the phase. */
function processEvents(log: ClusterLog, from: number): string[] {
  const exits = log
    .between(from, Date.now(), (l) => l.name === 'cluster' && / exited with code /.test(l.line) && !l.line.includes('(signal SIGKILL)'))
    .map((l) => l.line.replace(/; restarting.*/, ''));
  const errors = log.between(from, Date.now(), (l) => /^(api|gateway|worker)/.test(l.name) && /"level":(50|60)/.test(l.line));
  const byMessage = new Map<string, number>();
  for (const e of errors) {
    const msg = /"msg":"([^"]*)"/.exec(e.line)?.[1] ?? e.line.slice(0, 80);
    byMessage.set(`${e.name}: ${msg}`, (byMessage.get(`${e.name}: ${msg}`) ?? 0) + 1);
  }
  return [...exits.map((e) => `runner: ${e}`), ...[...byMessage].map(([what, n]) => `error log x${n} ${what}`)];
}

/**
 * Time to recover: the disruption starts at the injection and lasts while
 * delayed messages follow one another, each acknowledged before (or within
 * CHAIN_GAP_MS after) the disruption so far ended; it ends with the last
 * delivery of the last of them. A lone late delivery long after the fault
 * (a busy machine) is reported under the table but does not stretch it.
 */
function endOfDisruption(delayed: SentMessage[], injectedAt: number): number {
  let end = injectedAt;
  for (const m of [...delayed].sort((a, b) => (a.ackedAt ?? 0) - (b.ackedAt ?? 0))) {
    if ((m.ackedAt ?? 0) > end + CHAIN_GAP_MS) break;
    end = Math.max(end, m.completeAt ?? 0);
  }
  return end;
}

/** Who got the delayed messages late, how, and by how much at most. */
function describeDelayed(tracker: Tracker, delayed: SentMessage[]): string {
  const late = new Map<string, { n: number; via: Set<string>; maxMs: number }>();
  for (const m of delayed) {
    for (const l of tracker.lateAt(m, DELAYED_MS)) {
      const entry = late.get(l.receiver) ?? { n: 0, via: new Set<string>(), maxMs: 0 };
      entry.n++;
      entry.via.add(l.via);
      entry.maxMs = Math.max(entry.maxMs, l.lateMs);
      late.set(l.receiver, entry);
    }
  }
  const who = [...late]
    .sort((a, b) => b[1].maxMs - a[1].maxMs)
    .slice(0, 6)
    .map(([name, e]) => `${name} ${e.n} (${[...e.via].join('+')}, up to ${seconds(e.maxMs)})`);
  return `${delayed.length} messages delivered over ${seconds(DELAYED_MS)} after their ack; late at ${who.join(', ')}${late.size > 6 ? ` and ${late.size - 6} more` : ''}`;
}

function describeLost(incomplete: SentMessage[], injectedAt: number): string[] {
  return incomplete
    .slice(0, 10)
    .map(
      (m) =>
        `lost: id ${m.id} (${m.target.kind} via ${m.via}, acked ${seconds((m.ackedAt ?? 0) - injectedAt)} after injection, ` +
        `${m.attempts} attempts) missing at ${[...m.waiting].slice(0, 6).join(', ')}${m.waiting.size > 6 ? ` and ${m.waiting.size - 6} more` : ''}`,
    );
}
