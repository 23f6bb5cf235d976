import { nowMs, percentiles, sleep, type Percentiles } from '../stats.ts';
import type { Poster } from './http.ts';

export interface ClosedLoopResult {
  /** Successful (2xx) requests per second inside the measured window. */
  perSecond: number;
  latency: Percentiles;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
}

/**
 * Each poster sends one request, waits for the answer, sends the next, for
 * warm-up plus duration; only requests started after the warm-up and finished
 * before the end count.
 */
export async function closedLoop(
  posters: Poster[],
  opts: { warmupMs: number; durationMs: number; content: (i: number) => string },
): Promise<ClosedLoopResult> {
  const start = nowMs();
  const windowStart = start + opts.warmupMs;
  const end = windowStart + opts.durationMs;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let seq = 0;
  await Promise.all(
    posters.map(async (poster) => {
      while (nowMs() < end) {
        const t0 = nowMs();
        const status = await poster.post(JSON.stringify({ content: opts.content(seq++) }));
        const t1 = nowMs();
        if (t0 < windowStart || t1 > end) continue;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 200 && status < 300) {
          ok++;
          latencies.push(t1 - t0);
        } else {
          failed++;
          // Do not spin on a refusing server.
          await sleep(5);
        }
      }
    }),
  );
  return { perSecond: ok / (opts.durationMs / 1000), latency: percentiles(latencies), ok, failed, statuses };
}
