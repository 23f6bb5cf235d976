/**
 * The wait before attempt `attempt + 1` after `attempt` failed: doubling from
 * `baseMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random),
 * so webhooks that failed together (one receiver down) do not retry in step.
 */
export function retryDelay(attempt: number, opts: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exponential = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}
