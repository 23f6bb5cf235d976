import { afterEach, describe, expect, it } from 'vitest';
import type { TokenClaims } from '@chat/shared/auth';
import { ExpiryWatch, type Expiring } from './expiry.ts';

const watches: ExpiryWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
});

function connection(exp: number) {
  const c = { claims: { exp } as TokenClaims, expired: 0, expire: () => void c.expired++ };
  return c satisfies Expiring;
}

describe('ExpiryWatch', () => {
  const t0 = 1_800_000_000_000; // a whole second
  const watch = () => {
    const w = new ExpiryWatch(t0);
    watches.push(w);
    return w;
  };

  it('ends a connection in the first sweep at or after its exp second, once', () => {
    const w = watch();
    const c = connection(t0 / 1000 + 2);
    w.watch(c);
    w.sweep(t0 + 1_999);
    expect(c.expired).toBe(0);
    w.sweep(t0 + 2_000);
    expect(c.expired).toBe(1);
    w.sweep(t0 + 5_000);
    expect(c.expired).toBe(1);
  });

  it('catches up on seconds a late timer skipped', () => {
    const w = watch();
    const a = connection(t0 / 1000 + 1);
    const b = connection(t0 / 1000 + 3);
    w.watch(a);
    w.watch(b);
    w.sweep(t0 + 10_000);
    expect([a.expired, b.expired]).toEqual([1, 1]);
  });

  it('ends an already expired connection at once, and never one that was unwatched', () => {
    const w = watch();
    const stale = connection(t0 / 1000 - 1);
    w.watch(stale);
    expect(stale.expired).toBe(1);
    const closed = connection(t0 / 1000 + 1);
    w.watch(closed);
    w.unwatch(closed);
    w.sweep(t0 + 60_000);
    expect(closed.expired).toBe(0);
  });
});
