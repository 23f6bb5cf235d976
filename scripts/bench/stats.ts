/** Percentiles of one sample (milliseconds or any unit), nearest-rank. */
export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One figure over several rounds: the median is what the report shows. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

function rank(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  return { count: arr.length, p50: rank(arr, 0.5), p95: rank(arr, 0.95), p99: rank(arr, 0.99), max: arr.at(-1) ?? Number.NaN };
}

export function spread(values: number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  const sorted = [...finite].sort((a, b) => a - b);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, values };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted.at(-1) as number, values };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one host. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
