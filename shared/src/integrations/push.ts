import type { Kysely } from 'kysely';
import { z } from 'zod';
import { requireSession } from '../auth/scopes.ts';
import { id } from '../chat/schemas.ts';
import {
  addNotices,
  claimDueNotices,
  countPushSubscriptions,
  deletePushSubscription,
  leaseLogReader,
  listPushSubscriptions,
  mentionedMembers,
  notifiableAfter,
  releaseLogReader,
  settleNotice,
  subscribedAmong,
  upsertPushSubscription,
  type DueNotice,
  type Notice,
  type PushSubscriptionRow,
} from '../db/queries/push.ts';
import { logHead } from '../db/queries/messages.ts';
import type { DB } from '../db/schema.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import type { Actor } from '../model/actor.ts';
import { parseInput } from '../validation.ts';
import type { TargetGuard } from './targets.ts';

export type { DueNotice, Notice, PushSubscriptionRow };

/** Subscriptions one user may have (browsers and devices). */
const MAX_SUBSCRIPTIONS = 20;
const base64url = (what: string, min: number, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, `${what} must be base64url`)
    .min(min, `${what} is too short`)
    .max(max, `${what} is too long`);

/** A browser's `PushSubscription.toJSON()`. */
export const pushSubscriptionInput = z.object({
  endpoint: z.string({ error: 'endpoint must be a string' }).max(2048, 'endpoint is at most 2048 characters'),
  keys: z.object(
    {
      // What encryption needs: an uncompressed P-256 point and a 16-byte secret (RFC 8291).
      p256dh: base64url('keys.p256dh', 80, 100).refine((k) => {
        const bytes = Buffer.from(k, 'base64url');
        return bytes.length === 65 && bytes[0] === 4;
      }, 'keys.p256dh must be an uncompressed P-256 public key'),
      auth: base64url('keys.auth', 16, 30).refine((k) => Buffer.from(k, 'base64url').length === 16, 'keys.auth must be 16 bytes'),
    },
    { error: 'keys must be an object' },
  ),
  user_id: id('user_id').optional().meta({ description: 'Yourself only: a subscription belongs to whoever registers it' }),
});

export interface PushSubscriptionView {
  id: string;
  endpoint: string;
  created_at: string;
}

const present = (row: PushSubscriptionRow): PushSubscriptionView => ({
  id: row.id,
  endpoint: row.endpoint,
  created_at: row.created_at.toISOString(),
});

export interface PushSubscriptions {
  /** The VAPID public key browsers subscribe with; 404 while push is off. */
  publicKey(): { public_key: string };
  subscribe(actor: Actor, input: unknown): Promise<PushSubscriptionView>;
  list(actor: Actor): Promise<PushSubscriptionView[]>;
  unsubscribe(actor: Actor, rawId: unknown): Promise<void>;
}

/** Browser subscriptions, with a session only (a person's browser, not a script's token). */
export function createPushSubscriptions(deps: { db: Kysely<DB>; guard: TargetGuard; vapidPublicKey: string | undefined }): PushSubscriptions {
  const { db } = deps;
  const subscriptionId = id('subscription id');
  const enabled = () => {
    if (!deps.vapidPublicKey) throw notFound('push (this server has no VAPID key)');
    return deps.vapidPublicKey;
  };
  return {
    publicKey: () => ({ public_key: enabled() }),

    async subscribe(actor, raw) {
      requireSession(actor);
      enabled();
      const input = parseInput(pushSubscriptionInput, raw, 'invalid push subscription');
      if (input.user_id !== undefined && input.user_id !== actor.id) throw forbidden('you can only subscribe yourself');
      // Push services are https; anything else (or an internal address) only where WEBHOOK_ALLOWED_TARGETS allows it.
      const endpoint = deps.guard.checkUrl(input.endpoint, { httpsOnly: true }).toString();
      if ((await countPushSubscriptions(db, actor.id)) >= MAX_SUBSCRIPTIONS)
        throw conflict(`at most ${MAX_SUBSCRIPTIONS} push subscriptions per user`);
      const row = await upsertPushSubscription(db, { userId: actor.id, endpoint, p256dh: input.keys.p256dh, auth: input.keys.auth });
      if (!row) throw conflict('this endpoint is subscribed by another account; unsubscribe it there first');
      return present(row);
    },

    async list(actor) {
      requireSession(actor);
      return (await listPushSubscriptions(db, [actor.id])).map(present);
    },

    async unsubscribe(actor, rawId) {
      requireSession(actor);
      const subId = parseInput(subscriptionId, rawId, 'invalid subscription id');
      if (!(await deletePushSubscription(db, subId, actor.id))) throw notFound('push subscription');
    },
  };
}

/** `@name` mentions in `content`, lower-cased, each once. */
export function mentionsIn(content: string): string[] {
  const found = new Set<string>();
  for (const match of content.matchAll(/(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{2,31})/g)) {
    // "@bob." ends a sentence: a username does not end with . or -.
    const name = (match[1] ?? '').replace(/[.-]+$/, '');
    if (name.length >= 3) found.add(name.toLowerCase());
  }
  return [...found];
}

const preview = (content: string) => (content.length > 140 ? `${content.slice(0, 139)}…` : content);

/** What a notification says: one message as it is, several as a count. */
export function noticeText(n: { title: string; body: string; count: number }): { title: string; body: string } {
  return n.count > 1 ? { title: n.title, body: `${n.count} new messages` } : { title: n.title, body: n.body };
}

/**
 * The worker's side of push in PostgreSQL: one reader at a time (a lease on
 * the `push` log reader) turns new messages into notices per user and
 * conversation, counted once; senders claim due notices (a lease by moving
 * `due_at`) and settle them.
 */
export interface PushQueue {
  lease(token: string, leaseMs: number): Promise<number | undefined>;
  release(token: string): Promise<void>;
  head(): Promise<number>;
  /** The notices the messages in (after, upTo] make, for users with a subscription; `read` is how far the read reached. */
  notices(after: number, upTo: number, limit: number): Promise<{ notices: Notice[]; read: number }>;
  /** Adds them and moves the reader to `seq`; false when the lease was lost (nothing added). */
  commit(token: string, seq: number, notices: readonly Notice[], windowMs: number): Promise<boolean>;
  claimDue(leaseMs: number, limit: number): Promise<DueNotice[]>;
  subscriptionsOf(userId: string): Promise<PushSubscriptionRow[]>;
  removeSubscription(id: string): Promise<void>;
  settle(notice: DueNotice, sent: boolean, windowMs: number): Promise<void>;
}

const READER = 'push';

export function createPushQueue(db: Kysely<DB>): PushQueue {
  return {
    lease: (token, leaseMs) => leaseLogReader(db, READER, token, leaseMs),
    release: (token) => releaseLogReader(db, READER, token),
    head: () => logHead(db),
    async notices(after, upTo, limit) {
      const { messages, read } = await notifiableAfter(db, after, upTo, limit);
      const direct = await subscribedAmong(
        db,
        messages.flatMap((m) => (m.recipient_id && !m.room_id ? [m.recipient_id] : [])),
      );
      const byKey = new Map<string, Notice>();
      const add = (userId: string, conversation: string, seq: number, title: string, body: string) => {
        const key = `${userId} ${conversation}`;
        const earlier = byKey.get(key);
        byKey.set(key, { userId, conversation, count: (earlier?.count ?? 0) + 1, lastSeq: seq, title, body });
      };
      for (const m of messages) {
        if (m.room_id) {
          for (const userId of await mentionedMembers(db, m.room_id, m.sender_id, mentionsIn(m.content))) {
            add(userId, `room:${m.room_id}`, m.seq, `${m.sender} in ${m.room_name ?? 'a room'}`, preview(m.content));
          }
        } else if (m.recipient_id && direct.has(m.recipient_id)) {
          add(m.recipient_id, `user:${m.sender_id}`, m.seq, m.sender, preview(m.content));
        }
      }
      return { notices: [...byKey.values()], read };
    },
    commit: (token, seq, notices, windowMs) => addNotices(db, READER, token, seq, notices, windowMs),
    claimDue: (leaseMs, limit) => claimDueNotices(db, leaseMs, limit),
    subscriptionsOf: (userId) => listPushSubscriptions(db, [userId]),
    async removeSubscription(subId) {
      await deletePushSubscription(db, subId);
    },
    settle: (n, sent, windowMs) => settleNotice(db, n.user_id, n.conversation, n.pending, sent, windowMs),
  };
}
