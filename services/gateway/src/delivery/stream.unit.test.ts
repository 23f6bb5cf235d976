import { describe, expect, it } from 'vitest';
import type { Feed } from '@chat/shared/chat';
import type { Delivery } from '@chat/shared/events';
import { createLogger } from '@chat/shared/logger';
import { messageFixture } from '@chat/shared/testing';
import { createStream } from './stream.ts';

const delivery = (seq: number): Delivery => ({
  rooms: ['global'],
  event: 'message',
  seq,
  message: messageFixture({ id: `m${seq}`, content: `#${seq}`, created_at: new Date(0).toISOString() }),
});

/** A log holding `committed` (what PostgreSQL would answer); only what the stream needs of a Feed. */
function fakeLog(committed: number[], head = 0) {
  const reads: number[] = [];
  /** Set to make reads fail, as while PostgreSQL is away. */
  const outage = { on: false };
  const feed = {
    head: () => Promise.resolve(head),
    numberStale: () => Promise.resolve(),
    after: (seq: number, limit: number) => {
      if (outage.on) return Promise.reject(new Error('PostgreSQL is away'));
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
  return { feed, reads, committed, outage };
}

async function started(log: ReturnType<typeof fakeLog>) {
  const applied: number[] = [];
  const stream = createStream({ feed: log.feed, logger: createLogger({ level: 'silent', service: 'test' }), apply: (d) => applied.push(d.seq) });
  await stream.start();
  return { stream, applied };
}

describe('the per-gateway stream', () => {
  it('applies routed messages in channel order, once each, and skips what it has passed', async () => {
    const log = fakeLog([1, 2, 3, 4]);
    const { stream, applied } = await started(log);
    for (const seq of [1, 3, 3, 2, 4]) stream.receive(delivery(seq));
    // The router sends a gateway only its own messages, in log order: 2 is not this gateway's business after 3.
    expect(applied).toEqual([1, 3, 4]);
    expect(log.reads).toEqual([]);
    stream.stop();
  });

  it('reads the log in stream order when frames were lost, before the frame that showed the loss', async () => {
    const log = fakeLog([1, 2, 3, 4]);
    const { stream, applied } = await started(log);
    stream.receive(delivery(1));
    void stream.catchUp('lost');
    stream.receive(delivery(4));
    await stream.advance(0);
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(log.reads).toEqual([1]);
    stream.stop();
  });

  it("holds the stream while a step runs (a joiner's replay), then goes on in order", async () => {
    const log = fakeLog([]);
    const { stream, applied } = await started(log);
    const order: string[] = [];
    let release = () => {};
    stream.receive(delivery(1));
    stream.run(() => new Promise<void>((resolve) => (release = () => (order.push('step'), resolve()))));
    stream.receive(delivery(2));
    expect(applied).toEqual([1]);
    release();
    await stream.advance(0);
    expect(order).toEqual(['step']);
    expect(applied).toEqual([1, 2]);
    stream.stop();
  });

  it('starts at the log head: older messages are not replayed to live clients', async () => {
    const log = fakeLog([1, 2, 3, 4], 3);
    const { stream, applied } = await started(log);
    stream.receive(delivery(3));
    stream.receive(delivery(4));
    expect(applied).toEqual([4]);
    stream.stop();
  });

  it('says when reading the log failed, and goes on', async () => {
    const log = fakeLog([1, 2]);
    const { stream, applied } = await started(log);
    log.outage.on = true;
    expect(await stream.catchUp('lost')).toBe(false);
    log.outage.on = false;
    expect(await stream.catchUp('lost')).toBe(true);
    expect(applied).toEqual([1, 2]);
    stream.stop();
  });

  it('lets nobody wait on a stopped stream', async () => {
    const { stream } = await started(fakeLog([]));
    stream.run(() => new Promise<void>(() => {}));
    const waiting = stream.advance(10);
    const reading = stream.catchUp('lost');
    stream.stop();
    await waiting;
    expect(await reading).toBe(false);
  });
});
