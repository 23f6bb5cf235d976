import { createHash } from 'node:crypto';
import webPush from 'web-push';
import type { WorkerConfig } from '@chat/shared/config';
import { noticeText, postTo, type DueNotice, type PushQueue, type TargetGuard } from '@chat/shared/integrations';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { PresenceReader } from '@chat/shared/presence';

/** Notices claimed per step. */
const BATCH = 50;
/** How long a claimed notice stays with its sender. */
const CLAIM_MS = 30_000;

export interface PushSender {
  step(): Promise<void>;
}

/** The payload the service worker of the page gets (docs/webhooks.md#web-push). */
export interface PushPayload {
  conversation: string;
  title: string;
  body: string;
  count: number;
  seq: number;
}

/**
 * Sends due notices to the subscriptions of users who are still away.
 * Several workers send at once: a claim moves the notice's `due_at` past the
 * claim, so no other worker takes it meanwhile. A push service's Topic
 * (one per conversation) also replaces a notification a device has not
 * fetched yet with the newer one.
 */
export function createPushSender(deps: {
  queue: PushQueue;
  presence: Pick<PresenceReader, 'onlineAmong'>;
  guard: TargetGuard;
  logger: Logger;
  metrics: Metrics;
  settings: WorkerConfig['push'] & { vapid: NonNullable<WorkerConfig['push']['vapid']> };
  timeoutMs: number;
  userAgent: string;
}): PushSender {
  const { queue, settings, metrics } = deps;
  const outbound = { guard: deps.guard, timeoutMs: deps.timeoutMs, maxRedirects: 0, userAgent: deps.userAgent };
  const vapidDetails = settings.vapid;

  async function send(notice: DueNotice): Promise<boolean> {
    const subscriptions = await queue.subscriptionsOf(notice.user_id);
    const payload: PushPayload = {
      conversation: notice.conversation,
      ...noticeText({ ...notice, count: notice.pending }),
      count: notice.pending,
      seq: Number(notice.last_seq),
    };
    const topic = createHash('sha256').update(notice.conversation).digest('base64url').slice(0, 32);
    let sent = false;
    for (const sub of subscriptions) {
      let request;
      try {
        request = webPush.generateRequestDetails({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, JSON.stringify(payload), {
          vapidDetails,
          TTL: settings.ttlSeconds,
          topic,
          urgency: 'normal',
        });
      } catch (error) {
        // Keys nothing can encrypt for: this subscription can never work.
        deps.logger.warn({ err: error, subscriptionId: sub.id }, 'push subscription with unusable keys removed');
        await queue.removeSubscription(sub.id);
        metrics.pushNotifications.inc({ outcome: 'expired' });
        continue;
      }
      const result = await postTo(sub.endpoint, request.body, request.headers, outbound);
      if (result.status === 404 || result.status === 410) {
        // The browser unsubscribed or the subscription expired: it will never work again.
        await queue.removeSubscription(sub.id);
        metrics.pushNotifications.inc({ outcome: 'expired' });
      } else if (result.ok) {
        sent = true;
        metrics.pushNotifications.inc({ outcome: 'sent' });
      } else {
        metrics.pushNotifications.inc({ outcome: 'failed' });
        deps.logger.warn({ status: result.status, error: 'error' in result ? result.error : undefined }, 'push not accepted');
      }
    }
    return sent;
  }

  return {
    async step() {
      const due = await queue.claimDue(CLAIM_MS, BATCH);
      if (due.length === 0) return;
      const online = await deps.presence.onlineAmong([...new Set(due.map((n) => n.user_id))]);
      const outcomes = await Promise.allSettled(
        due.map(async (notice) => {
          if (online.has(notice.user_id)) {
            // Back before we pushed: the app shows it; nothing to send.
            metrics.pushNotifications.inc({ outcome: 'online' });
            await queue.settle(notice, false, settings.coalesceMs);
            return;
          }
          await queue.settle(notice, await send(notice), settings.coalesceMs);
        }),
      );
      // One notice's failure (PostgreSQL away) is not the others': it stays claimed and is tried again after CLAIM_MS.
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
