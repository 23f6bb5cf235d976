import { nowMs, sleep } from '../stats.ts';
import { benchContent } from './content.ts';
import type { Sender } from './senders.ts';

export interface OpenLoopResult {
  scheduled: number;
  ok: number;
  failed: number;
  /** Worst delay between a message's scheduled time and its send: the generator's own lag. */
  maxLagMs: number;
}

/**
 * Sends `rate` messages a second for `durationMs`, on the wall clock's schedule
 * (open loop: a slow answer does not delay the next send), round robin over
 * `senders`; then waits up to `answerTimeoutMs` for outstanding answers. With
 * `answerTimeoutMs: 0` it returns as soon as the last message is sent (back-to-back
 * calls keep the schedule going); `ok` and `failed` then count only what was
 * answered by then, and callers follow each send through `Sender.send`'s `done`.
 */
export async function openLoop(
  senders: Sender[],
  opts: { rate: number; durationMs: number; tag: string; pad?: number; answerTimeoutMs?: number },
): Promise<OpenLoopResult> {
  const total = Math.round((opts.rate * opts.durationMs) / 1000);
  const interval = 1000 / opts.rate;
  const before = senders.map((s) => s.counts());
  const start = nowMs();
  let maxLagMs = 0;
  let k = 0;
  while (k < total) {
    const now = nowMs();
    while (k < total && start + k * interval <= now) {
      const at = nowMs();
      maxLagMs = Math.max(maxLagMs, at - (start + k * interval));
      (senders[k % senders.length] as Sender).send(benchContent(opts.tag, k, at, opts.pad));
      k++;
    }
    const wait = start + k * interval - nowMs();
    // setTimeout cannot wait less than ~1 ms; at high rates a tick sends a small batch.
    await sleep(Math.max(0, Math.min(wait, 50)));
  }
  const answerTimeoutMs = opts.answerTimeoutMs ?? 10_000;
  const deadline = Date.now() + answerTimeoutMs;
  while (Date.now() < deadline && senders.some((s) => s.counts().pending > 0)) await sleep(20);
  // Plain-WS error frames trail the send; give them a moment.
  if (answerTimeoutMs > 0 && senders.some((s) => s.kind === 'ws')) await sleep(200);
  const after = senders.map((s) => s.counts());
  const diff = (f: 'ok' | 'failed') => after.reduce((sum, a, i) => sum + a[f] - (before[i]?.[f] ?? 0), 0);
  return { scheduled: total, ok: diff('ok'), failed: diff('failed'), maxLagMs };
}
