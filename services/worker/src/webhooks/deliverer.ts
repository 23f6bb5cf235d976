import { randomUUID } from 'node:crypto';
import type { WorkerConfig } from '@chat/shared/config';
import { postTo, signedHeaders, type LeasedWebhook, type TargetGuard, type WebhookPayload, type WebhookQueue } from '@chat/shared/integrations';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import { retryDelay } from './backoff.ts';

/** Log entries read per query while a webhook catches up. */
const BATCH = 100;

export interface WebhookDeliverer {
  /** Leases what is due (as many webhooks as there are free slots) and starts delivering to each; resolves once leased. */
  poll(): Promise<void>;
  /** Starts no new attempt, lets the ones under way finish, gives the leases back. */
  drain(): Promise<void>;
}

/**
 * Delivers each webhook's part of the commit-ordered log, in log order, at
 * least once. A webhook is leased to one worker at a time (a PostgreSQL row,
 * SKIP LOCKED, lease expiry): any number of workers share the webhooks without
 * configuration or rebalancing, and a dead worker's webhooks pass to another
 * when its leases lapse. The cursor moves only after a 2xx, in the statement
 * that records the attempt and fenced by the lease token, so a crash resends
 * at most the one attempt that was under way (unacknowledged).
 */
export function createWebhookDeliverer(deps: {
  queue: WebhookQueue;
  guard: TargetGuard;
  logger: Logger;
  metrics: Metrics;
  settings: WorkerConfig['webhooks'];
  userAgent: string;
}): WebhookDeliverer {
  const { queue, settings, metrics } = deps;
  /** Webhooks being delivered to, and leases being taken: what a drain waits for. */
  const running = new Set<Promise<void>>();
  const leasing = new Set<Promise<void>>();
  let draining = false;
  /** The last lease filled every free slot: more webhooks may be waiting than this worker took. */
  let saturated = false;
  const outbound = { guard: deps.guard, timeoutMs: settings.timeoutMs, maxRedirects: settings.maxRedirects, userAgent: deps.userAgent };

  /** One attempt at one event: true when acknowledged (the cursor moved), false when the webhook must stop for now. */
  async function attempt(hook: LeasedWebhook, token: string, failures: number, event: WebhookPayload): Promise<boolean> {
    const body = JSON.stringify(event);
    const headers = { 'content-type': 'application/json', ...signedHeaders(hook.secret, event.id, body) };
    const result = await postTo(hook.url, Buffer.from(body), headers, outbound);
    metrics.webhookAttemptDuration.observe(result.durationMs / 1000);
    const record = {
      eventId: event.id,
      seq: event.seq,
      event: event.type,
      attempt: failures + 1,
      statusCode: result.status,
      error: result.ok ? null : 'error' in result ? result.error : `answered ${result.status}`,
      durationMs: result.durationMs,
    };
    if (result.ok) {
      metrics.webhookAttempts.inc({ outcome: 'delivered' });
      return queue.acknowledge(hook, token, settings.leaseMs, record);
    }
    metrics.webhookAttempts.inc({ outcome: 'error' in result && result.refused ? 'refused' : 'failed' });
    const failed = await queue.fail(hook, token, record, {
      retryInMs: retryDelay(failures + 1, { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs }),
      pauseAfter: settings.maxFailures,
    });
    if (failed?.paused) {
      metrics.webhooksPaused.inc();
      deps.logger.warn({ webhookId: hook.id, failures: failures + 1 }, 'webhook paused after failed attempts in a row');
    }
    return false;
  }

  /** Everything the webhook has not acknowledged up to the head read now, until a failure, a lost lease or a drain. */
  async function catchUp(hook: LeasedWebhook, token: string): Promise<void> {
    const head = await queue.head();
    let cursor = hook.cursor;
    let failures = hook.failures;
    while (cursor < head && !draining) {
      const { events, read } = await queue.pending(hook, cursor, head, BATCH);
      for (const event of events) {
        if (draining) break;
        if (!(await attempt(hook, token, failures, event))) return;
        failures = 0;
        cursor = event.seq;
      }
      if (!draining) cursor = read;
    }
    await queue.release(hook, token, cursor);
  }

  function start(hook: LeasedWebhook, token: string) {
    const work = catchUp(hook, token)
      .catch(async (error: unknown) => {
        deps.logger.warn({ err: error, webhookId: hook.id }, 'webhook delivery interrupted');
        // PostgreSQL cut a statement, most likely. Hand the webhook back if it answers
        // again, so the next poll retries at once; else the lease lapses (WEBHOOK_LEASE).
        await queue.release(hook, token, hook.cursor).catch(() => undefined);
      })
      .finally(() => {
        running.delete(work);
        // A slot is free and more webhooks were waiting: look now, not at the next poll.
        if (!draining && saturated) poll().catch(() => undefined);
      });
    running.add(work);
  }

  async function lease() {
    const free = settings.concurrency - running.size;
    if (draining || free <= 0) return;
    const token = randomUUID();
    const leased = await queue.lease(token, settings.leaseMs, free);
    saturated = leased.length === free;
    for (const hook of leased) start(hook, token);
  }

  function poll(): Promise<void> {
    const taking = lease().finally(() => leasing.delete(taking));
    leasing.add(taking);
    return taking;
  }

  return {
    poll,
    async drain() {
      draining = true;
      // A lease under way may still start deliveries; each ends with this webhook released.
      while (running.size + leasing.size > 0) await Promise.allSettled([...running, ...leasing]);
    },
  };
}
