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
      return Promise.resolve(
        committed
          .filter((s) => s > seq)
          .sort((a, b) => a - b)
          .slice(0, limit)
          .map(delivery),
      );
    },
  } as unknown as Feed;
  return { feed, reads, committed };
}

async function started(log: ReturnType<typeof fakeLog>, syncHead: () => Promise<void> = () => Promise.resolve()) {
  const applied: number[] = [];
  const sequencer = createSequencer({ feed: log.feed, syncHead, logger: createLogger({ level: 'silent', service: 'test' }) });
  sequencer.onDelivery((d) => applied.push(d.seq));
  await sequencer.start();
  return { sequencer, applied };
}

describe('the per-gateway sequencer', () => {
  it('applies routed messages in channel order, once each, and skips what it has passed', async () => {
    const log = fakeLog([1, 2, 3, 4]);
    const { sequencer, applied } = await started(log);
    for (const seq of [1, 3, 3, 2, 4]) sequencer.receive(delivery(seq));
    // The router sends a gateway only its own messages, in log order: 2 is not this gateway's business after 3.
    expect(applied).toEqual([1, 3, 4]);
    expect(log.reads).toEqual([]);
    sequencer.stop();
  });

  it('reads the log in stream order when frames were lost, before the frame that showed the loss', async () => {
    const log = fakeLog([1, 2, 3, 4]);
    const { sequencer, applied } = await started(log);
    sequencer.receive(delivery(1));
    void sequencer.catchUp('lost');
    sequencer.receive(delivery(4));
    await sequencer.advance(0);
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(log.reads).toEqual([1]);
    sequencer.stop();
  });

  it("holds the stream while a step runs (a joiner's replay), then goes on in order", async () => {
    const log = fakeLog([]);
    const { sequencer, applied } = await started(log);
    const order: string[] = [];
    let release = () => {};
    sequencer.receive(delivery(1));
    sequencer.run(() => new Promise<void>((resolve) => (release = () => (order.push('step'), resolve()))));
    sequencer.receive(delivery(2));
    expect(applied).toEqual([1]);
    release();
    await sequencer.advance(0);
    expect(order).toEqual(['step']);
    expect(applied).toEqual([1, 2]);
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

  it("lets a resume wait until the stream has reached its cursor: from the router's head, else from the log", async () => {
    const log = fakeLog([1, 2, 3, 4, 5, 6], 2);
    const routed = { to: (_: number) => Promise.resolve() };
    const s = await started(log, () => routed.to(4));
    routed.to = (seq) => s.sequencer.advance(seq);
    await s.sequencer.reach(4);
    expect(s.sequencer.watermark).toBe(4);
    expect(log.reads).toEqual([]);
    await s.sequencer.reach(6);
    expect(log.reads).toEqual([4]);
    expect(s.applied).toEqual([5, 6]);
    s.sequencer.stop();
  });

  it('lets nobody wait on a stopped stream', async () => {
    const { sequencer } = await started(fakeLog([]));
    sequencer.run(() => new Promise<void>(() => {}));
    const waiting = sequencer.advance(10);
    sequencer.stop();
    await waiting;
  });
});
