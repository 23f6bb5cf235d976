import type { Hono } from 'hono';
import { z } from 'zod';
import { WEBHOOK_EVENTS, webhookPayload } from '@chat/shared/integrations';
import { describeRoute, openAPIRouteHandler, type GenerateSpecOptions } from 'hono-openapi';
import { AUTH_COOKIE } from '@chat/shared/auth';
import type { AppEnv } from '../env.ts';

export const OPENAPI_PATH = '/api/openapi.json';

/** What a receiver gets: one POST per event, signed as docs/webhooks.md says (Standard Webhooks). */
const signatureHeaders = (
  [
    ['webhook-id', "The event's id, the same on every retry: deduplicate by it"],
    ['webhook-timestamp', 'Unix seconds of this attempt: refuse one outside your tolerance (replays)'],
    ['webhook-signature', '`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" keyed with the secret>`'],
  ] as const
).map(([name, description]) => ({ name, in: 'header' as const, required: true, description, schema: { type: 'string' as const } }));

const webhooks = Object.fromEntries(
  WEBHOOK_EVENTS.map((event) => [
    event,
    {
      post: {
        summary: `The \`${event}\` event`,
        description:
          'POSTed to a webhook that lists this event, in log order, at least once; answer 2xx within WEBHOOK_TIMEOUT or it is retried with backoff.',
        parameters: signatureHeaders,
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookEvent' } } } },
        responses: {
          '2XX': { description: 'Received: the next event follows' },
          default: { description: 'Not received: retried later, and the webhook is paused after WEBHOOK_MAX_FAILURES in a row' },
        },
      },
    },
  ]),
);

const options: Partial<GenerateSpecOptions> = {
  documentation: {
    webhooks,
    info: {
      title: 'Chat API',
      version: '1.0.0',
      description:
        'REST API of the chat cluster. Every error is one JSON shape (`Error`) whose `code` clients switch on. Real-time delivery is over Socket.IO and a plain WebSocket, described in docs/asyncapi.yaml.',
    },
    tags: [
      { name: 'auth', description: 'Accounts and sessions' },
      { name: 'messages', description: 'Sending and reading messages' },
      { name: 'rooms', description: 'Rooms and their members' },
      { name: 'users', description: 'The user directory' },
      { name: 'conversations', description: 'The inbox: conversations, read positions' },
      { name: 'uploads', description: 'Files to attach to messages' },
      { name: 'tokens', description: 'Access tokens for scripts and bots' },
      { name: 'bots', description: 'Users that sign in with access tokens only' },
      { name: 'webhooks', description: 'Outgoing webhooks: signed deliveries of log events (docs/webhooks.md)' },
      { name: 'push', description: 'Web Push for people who are away' },
      { name: 'presence', description: 'Who is connected' },
      { name: 'health', description: 'For load balancers and orchestrators' },
      { name: 'page', description: 'The web page: the static files of web/, served as they are' },
      { name: 'meta', description: 'This document' },
    ],
    components: {
      schemas: { WebhookEvent: z.toJSONSchema(webhookPayload, { io: 'output' }) as Record<string, unknown> },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'The `token` of a login or refresh (a JWT), or an access token (`chat_pat_...`, `POST /api/tokens`), which is held to its scopes: 403 `forbidden` beyond them',
        },
        cookieAuth: {
          type: 'apiKey',
          in: 'cookie',
          name: AUTH_COOKIE,
          description: 'Set by login and refresh. Unsafe methods with the cookie must come from an allowed Origin.',
        },
      },
    },
  },
  // Every operation lists its own 400 with the one error shape, not the library's generic one.
  defaultValidationErrorResponse: false,
  // Otherwise the generator drops this document's own route for its '.json'.
  excludeStaticFile: false,
};

/**
 * `GET /api/openapi.json`: OpenAPI 3.1, generated from the zod schemas the
 * routes validate with and the response schemas of the presenters. Register
 * it after every route; it is built on the first request and then kept.
 */
export function registerOpenApi(app: Hono<AppEnv>) {
  app.get(
    OPENAPI_PATH,
    describeRoute({ tags: ['meta'], summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1 document' } } }),
    openAPIRouteHandler(app, options),
  );
}
