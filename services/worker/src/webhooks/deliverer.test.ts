import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTargetGuard, type Attempt, type LeasedWebhook, type WebhookPayload, type WebhookQueue } from '@chat/shared/integrations';
import { createLogger } from '@chat/shared/logger';
import { createMetrics } from '@chat/shared/metrics';
import { messageFixture } from '@chat/shared/testing';
import { startReceiver, type Receiver } from '../../test/harness.ts';
import { createWebhookDeliverer } from './deliverer.ts';

// The deliverer against an in-memory queue (the PostgreSQL one is
// shared/src/integrations/webhook-queue.ts) and a receiver on loopback: what it
// does when the database fails under it, and in what order it sends.

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver.close());

const event = (seq: number): WebhookPayload => ({
  id: `event-${seq}`,
  type: 'message.created',
  seq,
  webhook_id: 'w1',
  conversation: 'global',
  data: { message: messageFixture({ id: `m${seq}`, content: `message ${seq}` }) },
});

/** One webhook behind a log of `head` entries; `failPendingOnce` makes the first read throw, as a cut statement does. */
function memoryQueue(head: number, opts: { failPendingOnce?: boolean } = {}) {
  const hook: LeasedWebhook = {
    id: 'w1',
    owner_id: 'u1',
    url: receiver.url,
    events: ['message.created'],
    conversation: null,
    secret: 'whsec_AAAA',
    cursor: 0,
    failures: 0,
  };
  const state = {
    cursor: 0,
    leasedTo: null as string | null,
    releases: 0,
    acknowledged: [] as Attempt[],
    failPending: opts.failPendingOnce === true,
  };
  const queue: WebhookQueue = {
    head: () => Promise.resolve(head),
    lease(token) {
      if (state.leasedTo !== null || state.cursor >= head) return Promise.resolve([]);
      state.leasedTo = token;
      return Promise.resolve([{ ...hook, cursor: state.cursor }]);
    },
    pending(_hook, after, upTo, limit) {
      if (state.failPending) {
        state.failPending = false;
        return Promise.reject(new Error('terminating connection due to administrator command'));
      }
      const events = Array.from({ length: Math.min(limit, upTo - after) }, (_, i) => event(after + i + 1));
      return Promise.resolve({ events, read: events.at(-1)?.seq ?? upTo });
    },
    acknowledge(_hook, token, _leaseMs, attempt) {
      if (token !== state.leasedTo) return Promise.resolve(false);
      state.cursor = attempt.seq;
      state.acknowledged.push(attempt);
      return Promise.resolve(true);
    },
    fail: () => Promise.resolve(undefined),
    release(_hook, token, readTo) {
      if (token === state.leasedTo) {
        state.leasedTo = null;
        state.cursor = Math.max(state.cursor, readTo);
        state.releases++;
      }
      return Promise.resolve();
    },
    prune: () => Promise.resolve(0),
  };
  return { queue, state };
}

function deliverer(queue: WebhookQueue) {
  return createWebhookDeliverer({
    queue,
    guard: createTargetGuard(['127.0.0.0/8']),
    logger: createLogger({ level: 'silent', service: 'worker' }),
    metrics: createMetrics({ service: 'worker', enabled: false }),
    settings: {
      concurrency: 4,
      pollIntervalMs: 50,
      timeoutMs: 2_000,
      leaseMs: 30_000,
      maxFailures: 3,
      retryBaseMs: 50,
      retryMaxMs: 200,
      maxRedirects: 0,
      retentionMs: 1_000,
    },
    userAgent: 'test',
  });
}

describe('the webhook deliverer', () => {
  it('sends the log in order, one acknowledgement at a time, and gives the webhook back caught up', async () => {
    const { queue, state } = memoryQueue(5);
    const before = receiver.received.length;
    const d = deliverer(queue);
    await d.poll();
    await expect.poll(() => state.releases).toBe(1);
    await d.drain();
    expect(receiver.received.slice(before).map((r) => r.headers['webhook-id'])).toEqual(['event-1', 'event-2', 'event-3', 'event-4', 'event-5']);
    expect(state.acknowledged.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(state).toMatchObject({ cursor: 5, leasedTo: null, releases: 1 });
  });

  it('hands a webhook back when the database fails under it, instead of holding the lease until it lapses', async () => {
    const { queue, state } = memoryQueue(2, { failPendingOnce: true });
    const d = deliverer(queue);
    await d.poll();
    await expect.poll(() => state.releases).toBe(1);
    expect(state).toMatchObject({ cursor: 0, leasedTo: null });
    // The next poll takes it up again at once and delivers.
    await d.poll();
    await expect.poll(() => state.releases).toBe(2);
    await d.drain();
    expect(state.acknowledged.map((a) => a.seq)).toEqual([1, 2]);
  });
});
