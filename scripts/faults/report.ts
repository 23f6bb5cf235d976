import type { PhaseRow } from './phase.ts';
import type { WebhookRow } from './webhooks.ts';

const secs = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);

/** The table as Markdown, so that a run's output can go into docs/fault-suite.md as it is. */
export function formatTable(rows: PhaseRow[]): string {
  const header = [
    'fault',
    'sent',
    'acked',
    'stored',
    'changes',
    'lost',
    'duplicated',
    'missed, then recovered',
    'time to recover',
    'slowest ack',
    'retried sends',
  ];
  const cells = rows.map((r) => [
    r.name,
    String(r.sent),
    String(r.acked),
    String(r.stored),
    String(r.changes),
    String(r.lost),
    String(r.duplicated),
    String(r.recovered),
    secs(r.recoveryMs),
    secs(r.slowestAckMs),
    String(r.retried),
  ]);
  return markdown(header, cells);
}

/** Webhooks: one row per webhook the suite made, over the whole run. */
export function formatWebhookTable(rows: WebhookRow[]): string {
  const header = [
    'webhook',
    'expected',
    'delivered',
    'lost',
    'duplicated',
    'of them unacknowledged',
    'out of order',
    'attempts',
    'failed attempts',
    'answered 500',
    'answered late',
    'slowest delivery',
  ];
  const cells = rows.map((r) => [
    r.name,
    ...[r.expected, r.delivered, r.lost, r.duplicated, r.unacknowledged, r.outOfOrder, r.attempts, r.failedAttempts, r.refused, r.late].map(String),
    secs(r.slowestMs),
  ]);
  return markdown(header, cells);
}

/** Left-aligned first column, the others right-aligned. */
function markdown(header: string[], cells: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** Notes and failures under a table, one block per row that has any. */
export function formatDetails(rows: Array<Pick<PhaseRow, 'name' | 'notes' | 'failures'>>): string {
  return rows
    .filter((r) => r.notes.length + r.failures.length > 0)
    .map((r) => [`${r.name}:`, ...r.notes.map((n) => `  - ${n}`), ...r.failures.map((f) => `  ! ${f}`)].join('\n'))
    .join('\n');
}

export const failed = (rows: PhaseRow[]) => rows.some((r) => r.lost > 0 || r.duplicated > 0 || r.failures.length > 0);

/** Webhooks may repeat a delivery never acknowledged; they may not lose one, reorder, or break anything else. */
export const webhooksFailed = (rows: WebhookRow[], problems: string[]) =>
  problems.length > 0 || rows.some((r) => r.lost > 0 || r.outOfOrder > 0 || r.failures.length > 0);
