import type { Hono } from 'hono';
import { describeRoute, openAPIRouteHandler, type GenerateSpecOptions } from 'hono-openapi';
import { AUTH_COOKIE } from '@chat/shared/auth';
import type { AppEnv } from '../env.ts';

export const OPENAPI_PATH = '/api/openapi.json';

const options: Partial<GenerateSpecOptions> = {
  documentation: {
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
      { name: 'presence', description: 'Who is connected' },
      { name: 'health', description: 'For load balancers and orchestrators' },
      { name: 'page', description: 'The web page: the static files of web/, served as they are' },
      { name: 'meta', description: 'This document' },
    ],
    components: {
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
