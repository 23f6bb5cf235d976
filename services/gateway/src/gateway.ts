import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import type { Authenticator } from '@chat/shared/auth';
import type { Audience, ConversationService, Feed, MessageService } from '@chat/shared/chat';
import type { GatewayConfig } from '@chat/shared/config';
import { closeRedis, duplicateRedis, type RedisClient } from '@chat/shared/connections';
import { adapterKey, createRedisRouter, withHandledPublish, withHandledSubscriptions } from '@chat/shared/events';
import type { HealthReport } from '@chat/shared/health';
import { createLimiter, createProxyTrust } from '@chat/shared/limits';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import { HTTP_STATUS, healthAnswer } from '@chat/shared/presenters';
import { createPresenceReader, createPresenceWriter } from '@chat/shared/presence';
import { createCommands } from './connection/commands.ts';
import type { Connection } from './connection/connection.ts';
import { ExpiryWatch } from './connection/expiry.ts';
import { createHandshake } from './connection/handshake.ts';
import { createLifecycle } from './connection/lifecycle.ts';
import { LocalRooms } from './connection/local-rooms.ts';
import { LocalTokens } from './connection/local-tokens.ts';
import { createEphemeralSink, EphemeralOutbox } from './connection/outbox.ts';
import { createPresenceTracker, createPresenceWatch } from './connection/presence.ts';
import { createDeliveryCore } from './delivery/index.ts';
import { createPlainWsEndpoint, PLAIN_WS_PATH } from './transports/plain-ws.ts';
import { attachSocketIo } from './transports/socketio.ts';
import type { ChatServer } from './transports/socketio-types.ts';

export interface GatewayDeps {
  config: Pick<
    GatewayConfig,
    'gatewayId' | 'corsOrigins' | 'websocket' | 'socketio' | 'presence' | 'redis' | 'delivery' | 'connectionLimits' | 'trustedProxies'
  >;
  logger: Logger;
  auth: Authenticator;
  messages: MessageService;
  /** Read positions and typing: the socket `read` and `typing` commands. */
  conversations: ConversationService;
  audience: Audience;
  /** The message log: catch-up after lost publishes, and resume. */
  feed: Feed;
  /** The router, presence and the adapter; the subscribers are duplicates. A single node or a cluster. */
  redis: RedisClient;
  health: () => Promise<HealthReport>;
  /** This replica's Prometheus families; served on their own port by main.ts. */
  metrics: Metrics;
}

export interface Gateway {
  io: ChatServer;
  listen(opts: { host: string; port: number }): Promise<number>;
  /** Graceful stop: leave presence, tell clients to go elsewhere, stop listening. */
  close(): Promise<void>;
}

/** Room read receipts reach a connection at most once a second per reader (the latest). */
const RECEIPT_FLUSH_MS = 1_000;

/** See listen(); nginx.conf's `listen ... backlog=` is the same, for the same reason. */
const LISTEN_BACKLOG = 4096;

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, logger, metrics } = deps;
  // Auto-pipelining would defer the adapter's unsubscribes past our QUIT at close.
  // On a cluster the adapter's classic (not sharded) channels work as on one node:
  // the subscriber listens on one node, and every node forwards every PUBLISH.
  // Nothing is broadcast through the adapter any more: events, presence included, reach
  // this gateway through the router (delivery/), and each gateway sends to its own sockets.
  const subscriber = withHandledSubscriptions(duplicateRedis(deps.redis, { enableAutoPipelining: false }), (err, command) =>
    logger.warn({ err, command }, 'redis subscriber command failed'),
  );
  subscriber.on('error', (err: Error) => logger.warn({ err }, 'redis subscriber error'));
  const routeSubscriber = withHandledSubscriptions(duplicateRedis(deps.redis, { enableAutoPipelining: false }), (err, command) =>
    logger.warn({ err, command }, 'redis route subscriber command failed'),
  );
  routeSubscriber.on('error', (err: Error) => logger.warn({ err }, 'redis route subscriber error'));
  const publisher = withHandledPublish(deps.redis, (err, channel) => logger.error({ err, channel }, 'publishing to Redis failed'));

  // Set when shutdown begins: readiness turns 503 while connections are being handed off.
  let closing = false;
  const httpServer = createServer((req, res) => void serveHttp(req, res));
  // Both fail closed (503), as the handshake's revocation check already does while Redis is away.
  const connectionLimit = (name: string, limit: GatewayConfig['connectionLimits']['perUser'], message: string) =>
    createLimiter(deps.redis, { prefix: config.redis.prefix, name, limit, whenRedisFails: 'refuse', message, logger });
  const handshake = createHandshake({
    auth: deps.auth,
    audience: deps.audience,
    allowedOrigins: config.corsOrigins,
    limits: {
      perAddress: connectionLimit('handshake:address', config.connectionLimits.perAddress, 'too many connection attempts; try again later'),
      perUser: connectionLimit('connect:user', config.connectionLimits.perUser, 'too many new connections for this user; try again later'),
      proxyTrust: createProxyTrust(config.trustedProxies),
    },
  });

  const io: ChatServer = new Server(httpServer, {
    adapter: createAdapter(publisher, subscriber, { key: adapterKey(config.redis.prefix) }),
    cors: { origin: config.corsOrigins, credentials: true },
    allowRequest: (req, callback) => {
      const allowed = handshake.originAllowed(req);
      callback(allowed ? null : 'origin not allowed', allowed);
    },
    // SOCKETIO_PING_INTERVAL and SOCKETIO_PING_TIMEOUT; see shared/src/config/gateway.ts.
    pingInterval: config.socketio.pingIntervalMs,
    pingTimeout: config.socketio.pingTimeoutMs,
    maxHttpBufferSize: config.websocket.hardLimitBytes,
    // Other upgrade paths (the plain endpoint) are ours to handle, not Socket.IO's to destroy.
    destroyUpgrade: false,
  });

  // Engine.IO asks allowRequest only at the handshake, which is a GET; the
  // long-polling POSTs that carry a session's packets come later, with its sid.
  // A middleware sees every HTTP request, so a cross-site POST riding on the
  // cookie is refused here, as the API refuses one (403 forbidden).
  io.engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    const refusal = handshake.crossSiteRefusal(req);
    if (refusal === undefined) return next();
    res.writeHead(HTTP_STATUS.forbidden, { 'content-type': 'application/json' }).end(JSON.stringify({ error: refusal, code: 'forbidden' }));
  });

  const router = createRedisRouter(deps.redis, config.redis.prefix, { subscriber: routeSubscriber, metrics, logger });
  const presence = createPresenceTracker({
    writer: createPresenceWriter(deps.redis, { prefix: config.redis.prefix, gatewayId: config.gatewayId, leaseMs: config.presence.leaseMs }),
    audience: deps.audience,
    router,
    logger,
    leaseMs: config.presence.leaseMs,
  });
  const local = new LocalRooms<Connection>();
  const tokens = new LocalTokens();
  // Presence changes for local connections, sent coalesced once per PRESENCE_FLUSH_INTERVAL by one ticker;
  // room read receipts once a second the same way; reads and typing at once.
  const outbox = new EphemeralOutbox({ intervalMs: config.presence.flushMs, metrics });
  const receipts = new EphemeralOutbox({ intervalMs: RECEIPT_FLUSH_MS, metrics });
  const core = createDeliveryCore({
    router,
    // Per process, as presence's id: a restarted (or misconfigured twin) gateway never shares a channel or frame count.
    gatewayId: `${config.gatewayId}:${randomBytes(4).toString('hex')}`,
    feed: deps.feed,
    local,
    tokens,
    outbox: createEphemeralSink({ presence: outbox, receipts, metrics }),
    timing: { gapWaitMs: config.delivery.gapWaitMs, pollIntervalMs: config.delivery.pollIntervalMs, leaseMs: config.presence.leaseMs },
    logger,
    metrics,
  });
  const expiry = new ExpiryWatch();
  const lifecycle = createLifecycle({
    handshake,
    feed: deps.feed,
    core,
    rooms: local,
    tokens,
    expiry,
    presence,
    commands: createCommands({
      messages: deps.messages,
      conversations: deps.conversations,
      watchPresence: createPresenceWatch({ core, local, reader: createPresenceReader(deps.redis, config.redis.prefix) }),
      metrics,
    }),
    resume: { maxBacklog: config.delivery.resumeMaxBacklog, pageSize: config.delivery.resumePageSize },
    logger,
    metrics,
  });
  const plain = createPlainWsEndpoint({ lifecycle, limits: config.websocket, logger });
  attachSocketIo(io, { lifecycle, limits: config.socketio, logger });

  httpServer.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === PLAIN_WS_PATH) return plain.handleUpgrade(req, socket, head);
    if (path?.startsWith('/socket.io/')) return; // engine.io's own upgrade listener takes it
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  async function serveHttp(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '').split('?')[0];
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const health =
      req.method === 'GET'
        ? await healthAnswer(path ?? '', { health: deps.health, draining: closing, replica: { gateway_id: config.gatewayId } })
        : undefined;
    if (health) return reply(health.status, health.body);
    if (path === PLAIN_WS_PATH) return reply(426, { error: 'this endpoint speaks WebSocket only', code: 'upgrade_required' });
    reply(404, { error: 'not found', code: 'not_found' });
  }

  return {
    io,
    async listen(opts) {
      await presence.start();
      await core.start();
      outbox.start();
      receipts.start();
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        // When a gateway dies, its clients reconnect to the others all at once
        // (thousands within a second). Node's default accept backlog (511) would
        // overflow: the kernel drops the excess SYNs, nginx's retries back off
        // past its connect timeout and it marks this healthy gateway as failed.
        // The kernel caps the value at net.core.somaxconn.
        httpServer.listen({ port: opts.port, host: opts.host, backlog: LISTEN_BACKLOG }, () => resolve());
      });
      return (httpServer.address() as AddressInfo).port;
    },
    async close() {
      closing = true;
      await core.stop();
      outbox.stop();
      receipts.stop();
      expiry.stop();
      await presence.stop();
      plain.close();
      // Closing the engine drops each client's transport ("transport close"),
      // which Socket.IO clients answer by reconnecting: through nginx, elsewhere.
      await io.close();
      // The adapter's close() unsubscribes without waiting; QUIT lets that finish.
      await closeRedis(subscriber);
      await closeRedis(routeSubscriber);
    },
  };
}
