import { Hono } from 'hono';
import { except } from 'hono/combine';
import { cors } from 'hono/cors';
import type { AccessTokens, Accounts, Authenticator } from '@chat/shared/auth';
import type { ConversationService, MessageService, RoomService, UploadService, UserDirectory } from '@chat/shared/chat';
import type { HealthReport } from '@chat/shared/health';
import type { PushSubscriptions, WebhookService } from '@chat/shared/integrations';
import type { ProxyTrust } from '@chat/shared/limits';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { AppEnv } from './env.ts';
import { requireAuth } from './middleware/auth.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { resolveClientAddress } from './middleware/client-address.ts';
import { csrfGuard } from './middleware/csrf.ts';
import { onBodyTooLarge, onError, onNotFound } from './middleware/errors.ts';
import { requestMetrics } from './middleware/metrics.ts';
import { requestContext } from './middleware/request-context.ts';
import { registerOpenApi } from './openapi/document.ts';
import { authRoutes } from './routes/auth/routes.ts';
import { botRoutes } from './routes/bots/routes.ts';
import { conversationRoutes } from './routes/conversations/routes.ts';
import type { MultipartLimits } from './routes/uploads/multipart.ts';
import { uploadRoutes } from './routes/uploads/routes.ts';
import { tokenRoutes } from './routes/tokens/routes.ts';
import { pushRoutes } from './routes/push/routes.ts';
import { webhookRoutes } from './routes/webhooks/routes.ts';
import { healthRoutes } from './routes/health/routes.ts';
import { messageRoutes } from './routes/messages/routes.ts';
import { pageRoutes } from './routes/page/routes.ts';
import { presenceRoutes } from './routes/presence/routes.ts';
import { roomRoutes } from './routes/rooms/routes.ts';
import { userRoutes } from './routes/users/routes.ts';

export interface AppDeps {
  logger: Logger;
  http: { corsOrigins: string[]; bodyLimitBytes: number; secureCookies: boolean; proxyTrust: ProxyTrust };
  auth: Authenticator;
  /** Access tokens and bots. */
  accessTokens: AccessTokens;
  accounts: Accounts;
  /** Outgoing webhooks and Web Push subscriptions (the worker sends). */
  webhooks: WebhookService;
  push: PushSubscriptions;
  messages: MessageService;
  conversations: ConversationService;
  /** Attachments: upload, download; the clocks and size of a multipart upload. */
  uploads: UploadService;
  uploadLimits: MultipartLimits;
  rooms: RoomService;
  users: UserDirectory;
  health: () => Promise<HealthReport>;
  /** True once the replica is shutting down: readiness turns 503 so balancers stop sending it work. */
  draining: () => boolean;
  /** This replica's Prometheus families; served on their own port by main.ts, not through this app. */
  metrics: Metrics;
  /** The directory of the web page (the repository's web/), served on `/` by routes/page. */
  webRoot: string;
}

export function createApp(deps: AppDeps) {
  const authenticated = requireAuth(deps.auth);
  const origins = new Set(deps.http.corsOrigins);

  const app = new Hono<AppEnv>();
  if (deps.metrics.enabled) app.use(requestMetrics(deps.metrics));
  app.use(requestContext(deps.logger));
  app.use(resolveClientAddress(deps.http.proxyTrust));
  app.use(
    '/api/*',
    cors({
      origin: (origin) => (origins.has(origin) ? origin : null),
      credentials: true,
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Authorization', 'X-Request-Id', 'Idempotency-Key'],
      exposeHeaders: ['X-Request-Id'],
      maxAge: 600,
    }),
  );
  // Cross-site requests riding on the session cookie stop here, before authentication.
  app.use('/api/*', csrfGuard(deps.http.corsOrigins));
  // Uploads stream past it: their own limit (UPLOAD_MAX_BYTES) is counted as the file arrives.
  app.use('/api/*', except('/api/uploads', bodyLimit({ maxSize: deps.http.bodyLimitBytes, onError: onBodyTooLarge(deps.http.bodyLimitBytes) })));

  app.route('/health', healthRoutes({ check: deps.health, draining: deps.draining }));
  app.route(
    '/api/auth',
    authRoutes({ accounts: deps.accounts, users: deps.users, requireAuth: authenticated, secureCookies: deps.http.secureCookies }),
  );
  for (const path of [
    '/api/messages/*',
    '/api/conversations/*',
    '/api/uploads/*',
    '/api/tokens/*',
    '/api/bots/*',
    '/api/webhooks/*',
    '/api/push/*',
    '/api/users/*',
    '/api/rooms/*',
    '/api/ws/*',
  ])
    app.use(path, authenticated);
  app.route('/api/messages', messageRoutes({ messages: deps.messages, metrics: deps.metrics }));
  app.route('/api/users', userRoutes({ users: deps.users, rooms: deps.rooms }));
  app.route('/api/rooms', roomRoutes({ rooms: deps.rooms, conversations: deps.conversations }));
  app.route('/api/conversations', conversationRoutes({ conversations: deps.conversations }));
  app.route('/api/uploads', uploadRoutes({ uploads: deps.uploads, limits: deps.uploadLimits }));
  app.route('/api/tokens', tokenRoutes({ accessTokens: deps.accessTokens }));
  app.route('/api/bots', botRoutes({ accessTokens: deps.accessTokens }));
  app.route('/api/webhooks', webhookRoutes({ webhooks: deps.webhooks }));
  app.route('/api/push', pushRoutes({ push: deps.push }));
  app.route('/api/ws', presenceRoutes({ users: deps.users }));
  app.route('/', pageRoutes({ root: deps.webRoot }));
  registerOpenApi(app);

  app.onError(onError);
  app.notFound(onNotFound);
  return app;
}
