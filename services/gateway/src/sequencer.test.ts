import { describe, expect, it } from 'vitest';
import type { Feed } from '@chat/shared/chat';
import type { Delivery } from '@chat/shared/events';
import { createLogger } from '@chat/shared/logger';
import { createSequencer } from './sequencer.ts';

const delivery = (seq: number): Delivery => ({
  rooms: ['global'],
  event: 'message',
  seq,
  message: { id: `m${seq}`, sender: 'a', recipient: null, room_id: null, content: `#${seq}`, created_at: new Date(0).toISOString() },
});

/** A log holding `committed` (what PostgreSQL would answer); only what the sequencer needs of a Feed. */
function fakeLog(committed: number[], head = 0) {
  const reads: number[] = [];
  const feed = {
    head: () => Promise.resolve(head),
    numberStale: () => Promise.resolve(),
    after: (seq: number, limit: number) => {
      reads.push(seq);
      return Promise.resolve(committed.filter((s) => s > seq).sort((a, b) => a - b).slice(0, limit).map(delivery));
    },
  } as unknown as Feed;
  return { feed, reads, committed };
}

async function started(log: ReturnType<typeof fakeLog>, timing = { gapWaitMs: 20, pollIntervalMs: 60_000 }) {
  const applied: number[] = [];
  const sequencer = createSequencer({ feed: log.feed, ...timing, logger: createLogger({ level: 'silent', service: 'test' }) });
  sequencer.onDelivery((d) => applied.push(d.seq));
  await sequencer.start();
  return { sequencer, applied };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 2));
};

describe('the per-gateway sequencer', () => {
  it('applies out-of-order arrivals in log order, once each', async () => {
    const log = fakeLog([1, 2, 3, 4]);
    const { sequencer, applied } = await started(log);
    for (const seq of [2, 4, 1, 1, 3, 2]) sequencer.receive(delivery(seq));
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(log.reads).toEqual([]);
    sequencer.stop();
  });

  it('fills a gap Redis never fills (a later commit published, an earlier publish lost) from the log', async () => {
    const log = fakeLog([1, 2, 3]);
    const { sequencer, applied } = await started(log);
    sequencer.receive(delivery(1));
    sequencer.receive(delivery(3));
    expect(applied).toEqual([1]);
    await until(() => applied.length === 3);
    expect(applied).toEqual([1, 2, 3]);
    // The late publish of 2 finally arrives: already applied, dropped.
    sequencer.receive(delivery(2));
    expect(applied).toEqual([1, 2, 3]);
    sequencer.stop();
  });

  it('reads a lost publish at the log\'s tail, which no later message reveals, on the poll', async () => {
    const log = fakeLog([6], 5);
    const { sequencer, applied } = await started(log, { gapWaitMs: 20, pollIntervalMs: 30 });
    await until(() => applied.length === 1);
    expect(applied).toEqual([6]);
    expect(sequencer.watermark).toBe(6);
    sequencer.stop();
  });

  it('starts at the log head: older messages are not replayed to live clients', async () => {
    const log = fakeLog([1, 2, 3, 4], 3);
    const { sequencer, applied } = await started(log);
    sequencer.receive(delivery(3));
    sequencer.receive(delivery(4));
    expect(applied).toEqual([4]);
    sequencer.stop();
  });

  it('lets a resume wait until the stream has reached its cursor', async () => {
    const log = fakeLog([1, 2, 3, 4, 5], 2);
    const { sequencer, applied } = await started(log);
    await sequencer.reach(5);
    expect(applied).toEqual([3, 4, 5]);
    sequencer.stop();
  });
});
