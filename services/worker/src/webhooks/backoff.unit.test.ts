import { describe, expect, it } from 'vitest';
import { retryDelay } from './backoff.ts';

describe('retryDelay', () => {
  const opts = { baseMs: 1000, maxMs: 60_000 };

  it('doubles with each failure, between half and all of the step', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, opts, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, opts, () => 1))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('stops growing at the cap, even after very many failures', () => {
    expect(retryDelay(7, opts, () => 1)).toBe(60_000);
    expect(retryDelay(10_000, opts, () => 1)).toBe(60_000);
    expect(retryDelay(10_000, opts, () => 0)).toBe(30_000);
  });
});
