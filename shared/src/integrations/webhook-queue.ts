import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { logHead, visibleAfter } from '../db/queries/messages.ts';
import {
  acknowledge,
  changeDetails,
  leaseDueWebhooks,
  pruneDeliveries,
  recordFailure,
  release,
  type Attempt,
  type LeasedWebhook,
} from '../db/queries/webhooks.ts';
import { buildPayload, type WebhookPayload } from './payloads.ts';

export type { Attempt, LeasedWebhook };

/**
 * The worker's view of webhooks in PostgreSQL: leases, what a webhook has
 * not heard yet (its owner's part of the log after its cursor, as payloads),
 * and the attempts that move its cursor. Every write after the lease is
 * fenced by the lease token: false (or undefined) means the lease was lost.
 */
export interface WebhookQueue {
  head(): Promise<number>;
  lease(token: string, leaseMs: number, limit: number): Promise<LeasedWebhook[]>;
  /**
   * The events the webhook hears among its owner's log entries in (after, upTo]
   * (its event types, its conversation), at most `limit` entries read; `read`
   * is how far that read reached, so what it does not hear is passed over.
   */
  pending(hook: LeasedWebhook, after: number, upTo: number, limit: number): Promise<{ events: WebhookPayload[]; read: number }>;
  acknowledge(hook: LeasedWebhook, token: string, leaseMs: number, attempt: Attempt): Promise<boolean>;
  fail(
    hook: LeasedWebhook,
    token: string,
    attempt: Attempt,
    opts: { retryInMs: number; pauseAfter: number },
  ): Promise<{ paused: boolean } | undefined>;
  /** Gives it back, its cursor moved to `readTo` (what it read but does not hear need not be read again). */
  release(hook: LeasedWebhook, token: string, readTo: number): Promise<void>;
  prune(ageMs: number, limit: number): Promise<number>;
}

const hears = (hook: LeasedWebhook, event: WebhookPayload) =>
  hook.events.includes(event.type) && (hook.conversation === null || hook.conversation === event.conversation);

export function createWebhookQueue(db: Kysely<DB>): WebhookQueue {
  return {
    head: () => logHead(db),
    lease: (token, leaseMs, limit) => leaseDueWebhooks(db, token, leaseMs, limit),
    async pending(hook, after, upTo, limit) {
      const entries = await visibleAfter(db, hook.owner_id, after, upTo, limit);
      const changes = await changeDetails(
        db,
        entries.filter((e) => e.kind !== 'created').map((e) => e.seq),
      );
      // A short read has seen everything the owner may see up to `upTo`.
      const read = entries.length < limit ? upTo : (entries.at(-1)?.seq ?? upTo);
      const events = entries.map((e) => buildPayload(hook.id, hook.owner_id, e, changes.get(e.seq)));
      return { events: events.filter((event) => hears(hook, event)), read };
    },
    acknowledge: (hook, token, leaseMs, attempt) => acknowledge(db, hook.id, token, leaseMs, attempt),
    fail: (hook, token, attempt, opts) => recordFailure(db, hook.id, token, attempt, opts),
    release: (hook, token, readTo) => release(db, hook.id, token, readTo),
    prune: (ageMs, limit) => pruneDeliveries(db, ageMs, limit),
  };
}
