import { writeFile } from 'node:fs/promises';
import { entriesVisibleTo, webhookAttemptRows, webhookAttempts, webhookState, type OwnerEntry } from './database-checks.ts';
import { seconds } from './fault.ts';
import { createWebhook, type User } from './rest.ts';
import type { Hook, Receipt, WebhookReceiver } from './webhook-receiver.ts';

const ALL_EVENTS = ['message.created', 'message.updated', 'message.deleted', 'reaction.added', 'reaction.removed'];

/** The suite's webhooks: whose, which events, which conversation (from the owners' ids). */
const SPECS: Array<{ label: string; owners: string[]; events: string[]; conversation?: (user: (label: string) => User) => string }> = [
  // A receiver in both rooms: every new message it may see (global, its direct messages, both rooms).
  { label: 'created', owners: ['rws0'], events: ['message.created'] },
  // A receiver in room B only: every kind of event, edits, reactions and deletions included.
  { label: 'everything', owners: ['rio1', 'rio0p'], events: ALL_EVENTS },
  // A sender (its own messages too), global only: the worker skips everything else it may see.
  { label: 'global', owners: ['srest0'], events: ['message.created', 'message.updated', 'message.deleted'], conversation: () => 'global' },
  // One direct conversation (a receiver's with one sender): a few events among many skipped.
  { label: 'direct', owners: ['rws1', 'rws0'], events: ALL_EVENTS, conversation: (user) => `user:${user('srest1').id}` },
];

/** Makes the suite's webhooks (each hears what happens from now on) and tells the receiver their secrets. */
export async function registerWebhooks(receiver: WebhookReceiver, users: ReadonlyMap<string, User>, databaseUrl: string): Promise<Hook[]> {
  const user = (label: string) => {
    const found = users.get(label);
    if (!found) throw new Error(`no user ${label}`);
    return found;
  };
  const hooks: Hook[] = [];
  for (const spec of SPECS) {
    const ownerLabel = spec.owners.find((l) => users.has(l));
    if (ownerLabel === undefined) throw new Error(`none of ${spec.owners.join(', ')} exists for webhook ${spec.label}`);
    const owner = user(ownerLabel);
    const conversation = spec.conversation?.(user) ?? null;
    const made = await createWebhook(owner, {
      url: receiver.url(spec.label),
      events: spec.events,
      ...(conversation ? { conversation } : {}),
    });
    const { cursor } = await webhookState(databaseUrl, made.id);
    hooks.push(
      receiver.add({
        label: spec.label,
        id: made.id,
        secret: made.secret,
        ownerId: owner.id,
        ownerLabel,
        events: spec.events,
        conversation,
        startSeq: cursor,
      }),
    );
  }
  return hooks;
}

interface Expected {
  id: string;
  seq: number;
  type: string;
  conversation: string;
  createdAt: number;
}

/** The event a log entry is for its webhooks, as docs/webhooks.md describes it. */
function eventOf(hook: Hook, e: OwnerEntry): Expected {
  const type =
    e.kind === 'created'
      ? 'message.created'
      : e.kind === 'deleted'
        ? 'message.deleted'
        : e.reaction !== null
          ? e.reactionAdded
            ? 'reaction.added'
            : 'reaction.removed'
          : 'message.updated';
  const conversation =
    e.roomId !== null ? `room:${e.roomId}` : e.recipientId === null ? 'global' : `user:${e.senderId === hook.ownerId ? e.recipientId : e.senderId}`;
  return { id: e.id, seq: e.seq, type, conversation, createdAt: e.createdAt };
}

/** What `hook` must have heard by now: its owner's log entries after its start that its filter takes. */
async function expectedFor(hook: Hook, databaseUrl: string): Promise<Expected[]> {
  return (await entriesVisibleTo(databaseUrl, hook.ownerId, hook.startSeq))
    .map((e) => eventOf(hook, e))
    .filter((e) => hook.events.includes(e.type) && (hook.conversation === null || hook.conversation === e.conversation));
}

/**
 * Once the load has stopped: waits (bounded) until every webhook's receiver
 * has every event it must hear; resolves with how long that took, or
 * undefined if some never came.
 */
export async function settleWebhooks(hooks: Hook[], databaseUrl: string, timeoutMs: number): Promise<number | undefined> {
  const start = Date.now();
  for (;;) {
    let missing = 0;
    for (const hook of hooks) {
      const taken = new Set(hook.receipts.map((r) => r.eventId));
      missing += (await expectedFor(hook, databaseUrl)).filter((e) => !taken.has(e.id)).length;
    }
    if (missing === 0) return Date.now() - start;
    if (Date.now() - start > timeoutMs) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** One row of the webhook table, plus what to say under it. */
export interface WebhookRow {
  name: string;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Of the duplicates, those that followed only attempts the worker never recorded as acknowledged: allowed. */
  unacknowledged: number;
  outOfOrder: number;
  attempts: number;
  failedAttempts: number;
  /** Attempts the receiver answered 500 on purpose. */
  refused: number;
  /** Deliveries the receiver took but answered only after the worker's timeout, on purpose. */
  late: number;
  slowestMs: number;
  notes: string[];
  failures: string[];
}

const describe = (hook: Hook) =>
  `${hook.label}: ${hook.ownerLabel}, ${hook.conversation ?? 'every conversation'}, ${hook.events.length === ALL_EVENTS.length ? 'every event' : hook.events.join(' ')}`;

const countBy = <T>(items: T[], key: (item: T) => string) => {
  const out = new Map<string, number>();
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1);
  return out;
};
const listCounts = (counts: Map<string, number>) => [...counts].map(([k, n]) => `${k} ${n}`).join(', ');

/** Per webhook: what it had to hear, what its receiver took, and how that squares with the attempts the worker recorded. */
export async function checkWebhooks(receiver: WebhookReceiver, hooks: Hook[], databaseUrl: string): Promise<WebhookRow[]> {
  const rows: WebhookRow[] = [];
  for (const hook of hooks) {
    const notes: string[] = [];
    const failures: string[] = [];
    const expected = await expectedFor(hook, databaseUrl);
    const byId = new Map(expected.map((e) => [e.id, e]));
    const receipts = new Map<string, Receipt[]>();
    for (const r of hook.receipts) receipts.set(r.eventId, [...(receipts.get(r.eventId) ?? []), r]);

    const lost = expected.filter((e) => !receipts.has(e.id));
    for (const e of lost.slice(0, 10)) failures.push(`lost: ${e.type} ${e.id} (seq ${e.seq}, ${e.conversation})`);
    for (const [id, [r]] of receipts) {
      const e = byId.get(id);
      if (!r) continue;
      if (!e) failures.push(`not for this webhook: ${r.type} ${id} (seq ${r.seq}, ${r.conversation}), taken in phase ${r.phase}`);
      else if (e.seq !== r.seq || e.type !== r.type || e.conversation !== r.conversation)
        failures.push(`${id} came as ${r.type} seq ${r.seq} ${r.conversation}; the log has ${e.type} seq ${e.seq} ${e.conversation}`);
    }

    // Log order: each event's first arrival after every earlier one's.
    let highest = -1;
    let outOfOrder = 0;
    const firstSeen = new Set<string>();
    for (const r of hook.receipts) {
      if (firstSeen.has(r.eventId)) continue;
      firstSeen.add(r.eventId);
      if (r.seq < highest) {
        outOfOrder++;
        if (outOfOrder <= 10) failures.push(`out of order: seq ${r.seq} (${r.eventId}) first came after seq ${highest}, in phase ${r.phase}`);
      }
      highest = Math.max(highest, r.seq);
    }

    // Duplicates, against the attempts the worker recorded: an event taken n times, d of them recorded acknowledged.
    const attempts = await webhookAttempts(databaseUrl, hook.id);
    let duplicated = 0;
    let unacknowledged = 0;
    const causes: string[] = [];
    for (const [id, taken] of receipts) {
      const acknowledged = attempts.get(id)?.delivered ?? 0;
      if (acknowledged > taken.length)
        failures.push(`${id}: ${acknowledged} attempts recorded acknowledged, but the receiver took it ${taken.length} times`);
      if (taken.length < 2) continue;
      duplicated += taken.length - 1;
      const ackedAgain = Math.max(0, acknowledged - 1);
      unacknowledged += taken.length - 1 - ackedAgain;
      if (ackedAgain > 0)
        failures.push(
          `duplicate of an acknowledged delivery: ${taken[0]?.type} ${id} (seq ${taken[0]?.seq}) taken ${taken.length} times, ${acknowledged} recorded acknowledged`,
        );
      // Why the worker sent it again: the receiver held it while its worker was killed, answered it after the
      // worker's timeout, or (other) the worker never recorded the 2xx: it died first (any attempt in flight
      // at the kill, a slow answer above all) or PostgreSQL failed the statement.
      const held = taken.filter((r) => r.answer === 'held').length;
      const late = taken.filter((r) => r.answer === 'late').length;
      const other = Math.max(0, taken.length - acknowledged - held - late);
      for (let i = 0; i < held; i++) causes.push(`held at the kill (${taken[0]?.phase})`);
      for (let i = 0; i < late; i++) causes.push('answered after the timeout');
      for (let i = 0; i < other; i++) causes.push(`2xx never recorded (${taken[0]?.phase}, first answered ${taken[0]?.answer})`);
    }
    if (duplicated > 0) notes.push(`duplicates: ${listCounts(countBy(causes, (c) => c))}`);

    // How late each event first came after it was written, by the phase it was written in.
    const lateness = expected
      .map((e) => ({ e, r: receipts.get(e.id)?.[0] }))
      .filter((x): x is { e: Expected; r: Receipt } => x.r !== undefined)
      .map(({ e, r }) => ({ phase: receiver.phaseAt(e.createdAt), ms: r.at - e.createdAt }));
    const slowest = new Map<string, number>();
    for (const l of lateness) slowest.set(l.phase, Math.max(slowest.get(l.phase) ?? 0, l.ms));
    if (slowest.size > 0)
      notes.push(`slowest first delivery, by the phase the event was written in: ${[...slowest].map(([p, ms]) => `${p} ${seconds(ms)}`).join(', ')}`);

    const state = await webhookState(databaseUrl, hook.id);
    if (state.status !== 'active') failures.push(`webhook ${state.status} (${state.lastError ?? 'no error'})`);
    const all = [...attempts.values()];
    rows.push({
      name: describe(hook),
      expected: expected.length,
      delivered: expected.length - lost.length,
      lost: lost.length,
      duplicated,
      unacknowledged,
      outOfOrder,
      attempts: all.reduce((n, a) => n + a.delivered + a.failed, 0),
      failedAttempts: all.reduce((n, a) => n + a.failed, 0),
      refused: hook.refused,
      late: hook.receipts.filter((r) => r.answer === 'late').length,
      slowestMs: Math.max(0, ...lateness.map((l) => l.ms)),
      notes,
      failures,
    });
  }
  return rows;
}

/** Writes, per webhook, what it had to hear, what its receiver took (in order) and every attempt the worker recorded, as JSON to `path`. */
export async function dumpWebhooks(path: string, hooks: Hook[], databaseUrl: string): Promise<void> {
  const out = [];
  for (const hook of hooks) {
    const { label, id, ownerLabel, ownerId, events, conversation, startSeq, refused, receipts } = hook;
    out.push({
      label,
      id,
      ownerLabel,
      ownerId,
      events,
      conversation,
      startSeq,
      refused,
      receipts,
      expected: await expectedFor(hook, databaseUrl),
      attempts: await webhookAttemptRows(databaseUrl, hook.id),
    });
  }
  await writeFile(path, JSON.stringify(out, null, 1));
}
