import type { Kysely } from 'kysely';
import { z } from 'zod';
import { findRoomAsMember } from '../db/queries/rooms.ts';
import { findUserById } from '../db/queries/users.ts';
import {
  countWebhooks,
  deleteWebhook,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  resumeWebhook,
  type DeliveryRow,
  type WebhookRow,
} from '../db/queries/webhooks.ts';
import type { DB } from '../db/schema.ts';
import { managedUsers } from '../auth/access-tokens.ts';
import { requireSession } from '../auth/scopes.ts';
import { conversationRef, id, pageLimit } from '../chat/schemas.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import type { Limiter } from '../limits/rate-limits.ts';
import type { Actor } from '../model/actor.ts';
import { conversationId } from '../model/conversation.ts';
import { parseInput } from '../validation.ts';
import { WEBHOOK_EVENTS } from './payloads.ts';
import { newWebhookSecret } from './signature.ts';
import { TargetRefused, type TargetGuard } from './targets.ts';

export const createWebhookInput = z.object({
  url: z.string({ error: 'url must be a string' }).max(2048, 'url is at most 2048 characters').meta({
    description:
      'Where deliveries are POSTed (http or https). Addresses in private, loopback and link-local networks are refused, after DNS resolution and on every redirect, unless WEBHOOK_ALLOWED_TARGETS lists them',
  }),
  events: z
    .array(z.enum(WEBHOOK_EVENTS, { error: `events are ${WEBHOOK_EVENTS.join(', ')}` }), { error: 'events must be a list' })
    .min(1, 'at least one event')
    .transform((e) => [...new Set(e)]),
  conversation: conversationRef.optional().meta({
    description: 'Only this conversation (`global`, `user:<id>`, `room:<id>`); everything the owner can see when absent',
  }),
  user_id: id('user_id').optional().meta({ description: 'One of your bots, to hear what it can see; yourself when absent' }),
});

export const deliveriesQuery = z.object({
  limit: pageLimit,
  before: z.coerce
    .number({ error: 'before must be a delivery id' })
    .int()
    .positive()
    .optional()
    .meta({ description: 'The `next_cursor` of the previous page' }),
});

export interface WebhookView {
  id: string;
  user_id: string;
  url: string;
  events: string[];
  conversation: string | null;
  /** `paused` after WEBHOOK_MAX_FAILURES failed attempts in a row; `POST .../resume` sends what waits since. */
  status: 'active' | 'paused';
  failures: number;
  last_error: string | null;
  paused_at: string | null;
  created_at: string;
}

export interface DeliveryView {
  id: string;
  event_id: string;
  seq: number;
  event: string;
  attempt: number;
  outcome: 'delivered' | 'failed';
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  created_at: string;
}

const present = (row: WebhookRow): WebhookView => ({
  id: row.id,
  user_id: row.owner_id,
  url: row.url,
  events: row.events,
  conversation: row.conversation,
  status: row.status,
  failures: row.failures,
  last_error: row.last_error,
  paused_at: row.paused_at?.toISOString() ?? null,
  created_at: row.created_at.toISOString(),
});

const presentDelivery = (row: DeliveryRow): DeliveryView => ({
  id: row.id,
  event_id: row.event_id,
  seq: Number(row.seq),
  event: row.event,
  attempt: row.attempt,
  outcome: row.outcome,
  status_code: row.status_code,
  error: row.error,
  duration_ms: row.duration_ms,
  created_at: row.created_at.toISOString(),
});

export interface WebhookService {
  /** A new webhook; the signing secret is in `secret`, here and never again. */
  create(actor: Actor, input: unknown): Promise<WebhookView & { secret: string }>;
  list(actor: Actor): Promise<WebhookView[]>;
  get(actor: Actor, rawId: unknown): Promise<WebhookView>;
  remove(actor: Actor, rawId: unknown): Promise<void>;
  resume(actor: Actor, rawId: unknown): Promise<WebhookView>;
  deliveries(actor: Actor, rawId: unknown, query: unknown): Promise<{ deliveries: DeliveryView[]; next_cursor: string | null }>;
}

/**
 * Webhooks are managed with a session only, as tokens are (a webhook reads
 * everything its owner sees, so no token may add one), for the caller or
 * one of their bots.
 */
export function createWebhookService(deps: {
  db: Kysely<DB>;
  guard: TargetGuard;
  /** WEBHOOK_MAX_PER_USER: beyond it, 409. */
  maxPerUser: number;
  /** WEBHOOK_CREATE_LIMIT per user; none in tests that build the service bare. */
  createLimit?: Limiter;
}): WebhookService {
  const { db } = deps;
  const webhookId = id('webhook id');

  async function own(actor: Actor, rawId: unknown): Promise<{ id: string; owners: string[]; row: WebhookRow }> {
    requireSession(actor);
    const id = parseInput(webhookId, rawId, 'invalid webhook id');
    const owners = await managedUsers(db, actor);
    const row = await findWebhook(db, id, owners);
    if (!row) throw notFound('webhook');
    return { id, owners, row };
  }

  return {
    async create(actor, raw) {
      requireSession(actor);
      const input = parseInput(createWebhookInput, raw, 'invalid webhook');
      const owners = await managedUsers(db, actor);
      const ownerId = input.user_id ?? actor.id;
      if (!owners.includes(ownerId)) throw forbidden('you can add webhooks for yourself and your bots only');
      const url = deps.guard.checkUrl(input.url);
      try {
        await deps.guard.resolve(url.hostname);
      } catch (error) {
        // A name that does not resolve now may later; one that resolves inside is refused now (and at every delivery).
        if (error instanceof TargetRefused) throw error;
      }
      const ref = input.conversation;
      if (ref?.kind === 'room') {
        const found = await findRoomAsMember(db, ref.roomId, ownerId);
        if (!found) throw notFound('room');
        if (!found.member) throw forbidden('the owner is not a member of this room');
      } else if (ref?.kind === 'direct' && ref.userId !== ownerId && !(await findUserById(db, ref.userId))) {
        throw notFound('user');
      }
      await deps.createLimit?.consume(actor.id);
      if ((await countWebhooks(db, [ownerId])) >= deps.maxPerUser) throw conflict(`at most ${deps.maxPerUser} webhooks per user`);
      const secret = newWebhookSecret();
      const row = await insertWebhook(db, {
        ownerId,
        url: url.toString(),
        events: input.events,
        conversation: ref ? conversationId(ref) : null,
        secret,
      });
      return { ...present(row), secret };
    },

    async list(actor) {
      requireSession(actor);
      return (await listWebhooks(db, await managedUsers(db, actor))).map(present);
    },

    async get(actor, rawId) {
      return present((await own(actor, rawId)).row);
    },

    async remove(actor, rawId) {
      const { id, owners } = await own(actor, rawId);
      if (!(await deleteWebhook(db, id, owners))) throw notFound('webhook');
    },

    async resume(actor, rawId) {
      const { id, owners } = await own(actor, rawId);
      const row = await resumeWebhook(db, id, owners);
      if (!row) throw notFound('webhook');
      return present(row);
    },

    async deliveries(actor, rawId, rawQuery) {
      const { id } = await own(actor, rawId);
      const query = parseInput(deliveriesQuery, rawQuery, 'invalid query');
      const rows = await listDeliveries(db, id, query.limit + 1, query.before === undefined ? undefined : String(query.before));
      const page = rows.slice(0, query.limit);
      return { deliveries: page.map(presentDelivery), next_cursor: rows.length > query.limit ? (page.at(-1)?.id ?? null) : null };
    },
  };
}
