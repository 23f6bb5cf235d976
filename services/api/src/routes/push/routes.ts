import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { pushSubscriptionInput, type PushSubscriptions } from '@chat/shared/integrations';
import { pushKeySchema, pushSubscriptionListSchema, pushSubscriptionSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params, rawBody } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';
import { subscriptionParams } from './schema.ts';

const tags = ['push'];
const SESSION_ONLY = 'With a session only: a browser of a person who signed in (403 for an access token).';

export function pushRoutes(deps: { push: PushSubscriptions }) {
  const { push } = deps;
  return new Hono<AppEnv>()
    .get(
      '/key',
      describeRoute({
        tags,
        summary: 'The VAPID public key',
        description: 'What `pushManager.subscribe({applicationServerKey})` needs. 404 while this server sends no push (no VAPID keys configured).',
        ...AUTHENTICATED,
        responses: { 200: json(pushKeySchema, 'The key'), ...errors(401, 404, ...ALWAYS) },
      }),
      (c) => c.json(push.publicKey()),
    )
    .post(
      '/subscriptions',
      describeRoute({
        tags,
        summary: 'Subscribe this browser to push',
        description: `The browser's \`PushSubscription.toJSON()\`. While you have no live connection, a direct message to you, or a room message that mentions \`@you\`, is pushed to it (at most one notification per conversation per PUSH_COALESCE_WINDOW; more become "N new messages"). The endpoint must be https and outside private networks (400); one another account subscribed is 409. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 201: json(pushSubscriptionSchema, 'Subscribed (or its keys updated)'), ...errors(400, 401, ...UNSAFE, 404, 409, ...ALWAYS) },
      }),
      // The push rules validate it.
      rawBody(pushSubscriptionInput),
      async (c) => c.json(await push.subscribe(c.get('claims'), c.req.valid('json')), 201),
    )
    .get(
      '/subscriptions',
      describeRoute({
        tags,
        summary: 'Your push subscriptions',
        description: SESSION_ONLY,
        ...AUTHENTICATED,
        responses: { 200: json(pushSubscriptionListSchema, 'Oldest first'), ...errors(401, 403, ...ALWAYS) },
      }),
      async (c) => c.json({ subscriptions: await push.list(c.get('claims')) }),
    )
    .delete(
      '/subscriptions/:id',
      describeRoute({
        tags,
        summary: 'Unsubscribe',
        description: `Nothing more is pushed to it. Do this on sign-out. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 204: { description: 'Removed' }, ...errors(400, 401, ...UNSAFE, 404, ...ALWAYS) },
      }),
      params(subscriptionParams),
      async (c) => {
        await push.unsubscribe(c.get('claims'), c.req.valid('param').id);
        return c.body(null, 204);
      },
    );
}
