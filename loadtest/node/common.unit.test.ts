import { describe, expect, it } from 'vitest';
import type { ReceiverPool, TagStats } from '../../scripts/bench/clients/receiver-pool.ts';
import { Checks, deliveries, httpFailed, Rate, type Received } from './common.ts';

const stats = (distinctPerReceiver: number[], received: number, samples: number[] = []): TagStats => ({
  latency: { count: 0, p50: 0, p95: 0, p99: 0, max: 0 },
  received,
  distinctPerReceiver,
  wsFrameBytes: Number.NaN,
  malformed: 0,
  samples,
});

/** Three listeners, `failed` of which never connected. */
function receivedOf(byTag: Record<string, TagStats>, failed = 0): Received {
  const pool = { size: 3, connected: { live: 3 - failed, failed, errors: [] } } as unknown as ReceiverPool;
  return { kind: 'ws', pool, byTag: new Map(Object.entries(byTag)), live: 3 - failed, drops: 0 };
}

describe('deliveries', () => {
  it('counts distinct deliveries, duplicates and what a listener lacks of the stored messages', () => {
    const stored = new Map([
      ['a', 10],
      ['b', 5],
    ]);
    // a: listener 2 lacks 2 and got one message twice; b: all there.
    const r = receivedOf({ a: stats([10, 8, 10], 29, [1, 2]), b: stats([5, 5, 5], 15, [3]) });
    expect(deliveries(r, stored, ['a', 'b'])).toMatchObject({ distinct: 43, duplicated: 1, lost: 2, samples: [1, 2, 3], perListener: [15, 13, 15] });
    expect(deliveries(r, stored, ['b'])).toMatchObject({ distinct: 15, duplicated: 0, lost: 0 });
  });

  it('does not count what a listener that never connected did not get as lost', () => {
    const r = receivedOf({ a: stats([10, 9, 0], 19) }, 1);
    expect(deliveries(r, new Map([['a', 10]]), ['a']).lost).toBe(1);
  });
});

describe('thresholds', () => {
  it('http_req_failed fails at 1% of requests', () => {
    const http = new Rate();
    for (let i = 0; i < 99; i++) http.add(true);
    expect(httpFailed(http).ok).toBe(true);
    http.add(false);
    expect(httpFailed(http)).toMatchObject({ ok: false, value: 'rate=1.00% (1 of 100)' });
  });

  it('checks merge every named check', () => {
    const checks = new Checks();
    checks.add('a', true);
    checks.add('a', false);
    checks.add('b', true);
    expect(checks.all).toMatchObject({ passes: 2, fails: 1 });
  });
});
