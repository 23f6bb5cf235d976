import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { createWebhookInput, deliveriesQuery, type WebhookService } from '@chat/shared/integrations';
import { deliveryPageSchema, newWebhookSchema, webhookListSchema, webhookSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params, query, rawBody } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';
import { webhookParams } from './schema.ts';

const tags = ['webhooks'];
const SESSION_ONLY = 'With a session only (a login): an access token cannot manage webhooks (403).';

export function webhookRoutes(deps: { webhooks: WebhookService }) {
  const { webhooks } = deps;
  return new Hono<AppEnv>()
    .post(
      '/',
      describeRoute({
        tags,
        summary: 'Create an outgoing webhook',
        description: `For you or one of your bots (\`user_id\`): every event of \`events\` in what its owner can see (or in one \`conversation\`) is POSTed to \`url\` from now on, in log order, at least once, signed with the secret in the answer (shown this once; docs/webhooks.md says how to verify). A URL into a private, loopback or link-local network is refused (400) unless WEBHOOK_ALLOWED_TARGETS lists it. WEBHOOK_MAX_PER_USER (409), WEBHOOK_CREATE_LIMIT per user (429). ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: {
          201: json(newWebhookSchema, 'The webhook, with its secret this once'),
          ...errors(400, 401, ...UNSAFE, 404, 409, 429, ...ALWAYS),
        },
      }),
      // The webhook rules validate it.
      rawBody(createWebhookInput),
      async (c) => c.json(await webhooks.create(c.get('claims'), c.req.valid('json')), 201),
    )
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Your webhooks',
        description: `Yours and your bots', without secrets. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 200: json(webhookListSchema, 'Oldest first'), ...errors(401, 403, ...ALWAYS) },
      }),
      async (c) => c.json({ webhooks: await webhooks.list(c.get('claims')) }),
    )
    .get(
      '/:id',
      describeRoute({
        tags,
        summary: 'One webhook',
        description: `Its state: active or paused, failures in a row, the last error. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 200: json(webhookSchema, 'The webhook'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(webhookParams),
      async (c) => c.json(await webhooks.get(c.get('claims'), c.req.valid('param').id)),
    )
    .delete(
      '/:id',
      describeRoute({
        tags,
        summary: 'Delete a webhook',
        description: `No attempt starts after this; one under way may still arrive. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 204: { description: 'Deleted' }, ...errors(400, 401, ...UNSAFE, 404, ...ALWAYS) },
      }),
      params(webhookParams),
      async (c) => {
        await webhooks.remove(c.get('claims'), c.req.valid('param').id);
        return c.body(null, 204);
      },
    )
    .post(
      '/:id/resume',
      describeRoute({
        tags,
        summary: 'Resume a paused webhook',
        description: `Active again, from the first event it has not acknowledged: what happened while it was paused follows, in order. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 200: json(webhookSchema, 'The webhook, active'), ...errors(400, 401, ...UNSAFE, 404, ...ALWAYS) },
      }),
      params(webhookParams),
      async (c) => c.json(await webhooks.resume(c.get('claims'), c.req.valid('param').id)),
    )
    .get(
      '/:id/deliveries',
      describeRoute({
        tags,
        summary: "A webhook's delivery attempts",
        description: `Every attempt, newest first, kept WEBHOOK_DELIVERY_RETENTION: the event, its attempt number, the outcome, the receiver's status or the error, and how long it took. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 200: json(deliveryPageSchema, 'Newest first'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(webhookParams),
      query(deliveriesQuery),
      async (c) => c.json(await webhooks.deliveries(c.get('claims'), c.req.valid('param').id, c.req.valid('query'))),
    );
}
