import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, duration, int, port, readEnv, type Env, type VariableMeta } from './env.ts';
import { COMMON_VARIABLES, readCommonConfig, type CommonConfig } from './common.ts';
import { metricsShape, readMetricsConfig, type MetricsConfig } from './metrics.ts';
import type { RateLimit } from '../limits/rate-limits.ts';

export interface GatewayConfig extends CommonConfig {
  host: string;
  port: number;
  metrics: MetricsConfig;
  /** Names this process in cluster presence; unique per replica. */
  gatewayId: string;
  websocket: {
    pingPeriodMs: number;
    pongWaitMs: number;
    /** Frames above this get an error frame; the connection stays open. */
    maxMessageBytes: number;
    /** Frames above this close the connection (transport limit). */
    hardLimitBytes: number;
    /** A connection with more than this unsent is terminated as too slow (no close frame). */
    maxBufferedBytes: number;
    /** Inbound messages in flight (being stored or waiting); more are refused with `busy`. */
    maxQueuedMessages: number;
  };
  socketio: {
    pingIntervalMs: number;
    pingTimeoutMs: number;
    /** Inbound messages in flight (being stored or waiting); more are refused with `busy`. */
    maxQueuedMessages: number;
    /** A connection with more than this queued for it and unsent is terminated as too slow. */
    maxBufferedBytes: number;
  };
  presence: {
    leaseMs: number;
    /** How often each connection is sent the presence changes collected for it (at most one per user per interval). */
    flushMs: number;
  };
  /** New connections (either socket kind) per user, and handshakes per client address. */
  connectionLimits: { perUser: RateLimit; perAddress: RateLimit };
  delivery: {
    /** How long an event may wait for a lower seq still in flight on Redis before the log is read instead. */
    gapWaitMs: number;
    /** How often the log is read for messages whose publish never arrived. */
    pollIntervalMs: number;
    /** A resume with more missed messages than this is told to reload from REST. */
    resumeMaxBacklog: number;
    /** Missed messages read from PostgreSQL per page while resuming. */
    resumePageSize: number;
  };
}

/** The gateway's own variables (besides the database and the shared ones). */
export const gatewayShape = {
  HOST: z.string().default('0.0.0.0').meta({ description: 'Address the HTTP and WebSocket listener binds.' }),
  PORT: port(8081).meta({
    description: 'Port of the listener (Socket.IO on `/socket.io/`, plain WebSocket on `/api/ws/connect`, health); `0` picks a free one.',
  }),
  ...metricsShape(9101),
  GATEWAY_ID: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'letters, digits and _ . - only, at most 64')
    .default(`${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`)
    .meta({
      description:
        'Names the replica in presence, routing, logs and `/health`; unique per replica. Each process adds a random suffix of its own, so a restarted replica starts afresh.',
      values: 'letters, digits and `_ . -`, at most 64',
      defaultText: '`<hostname>-<pid>-<random>`',
    } satisfies VariableMeta),
  WEBSOCKET_PING_PERIOD: duration('54s').meta({ description: 'Plain WebSocket: how often the gateway pings.' }),
  WEBSOCKET_PONG_WAIT: duration('60s').meta({
    description: 'Plain WebSocket: a peer silent this long is dropped; must be longer than `WEBSOCKET_PING_PERIOD`.',
  }),
  WEBSOCKET_MAX_MESSAGE_SIZE: int(16 * 1024, 64, 1024 * 1024).meta({
    description:
      'Plain WebSocket frame size (bytes): a larger frame gets an error frame; one over 4x this (at least 64 KiB) closes the connection with 1009.',
  }),
  WEBSOCKET_MAX_BUFFERED_BYTES: int(4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024).meta({
    description: 'A connection of either kind with more than this (bytes) queued and unsent is terminated as too slow to read (4 MiB by default).',
  }),
  SOCKETIO_PING_INTERVAL: duration('25s').meta({
    description: "Socket.IO heartbeat: a dead client is dropped within interval + timeout. Keep it well below nginx's `proxy_read_timeout` (90s).",
  }),
  SOCKETIO_PING_TIMEOUT: duration('20s').meta({ description: 'Socket.IO heartbeat: how long a ping may go unanswered.' }),
  CONNECTION_MAX_QUEUED_MESSAGES: int(64, 1, 10_000).meta({
    description: 'Per connection, either socket kind: messages in flight (stored in order); more get a `busy` error and the connection stays open.',
  }),
  PRESENCE_LEASE: duration('30s').meta({
    description: 'A gateway that dies without cleaning up stops counting in presence, and stops being routed events, after this.',
  }),
  PRESENCE_FLUSH_INTERVAL: duration('1s').meta({
    description:
      "How often a gateway sends each of its connections the presence changes of their contacts and watched users collected since the last time: at most one `presence` per user per interval, the user's latest status.",
  }),
  DELIVERY_GAP_WAIT: duration('50ms').meta({
    description:
      'How long an event the router numbered for this gateway may take to arrive before the gateway counts it lost and reads the log from PostgreSQL.',
  }),
  DELIVERY_POLL_INTERVAL: duration('1s').meta({
    description:
      "How often the gateway checks routing (lost frames, a router held up by a lost publish, rooms it no longer needs) and, while Redis is away, reads the log's tail.",
  }),
  RESUME_MAX_BACKLOG: int(10_000, 1, 1_000_000).meta({
    description: 'A resume that missed more messages than this gets `reload` instead of a replay.',
  }),
  RESUME_PAGE_SIZE: int(200, 1, 10_000).meta({
    description: 'Missed messages read from PostgreSQL per page while resuming; the next page waits for the client to read.',
  }),
  CONNECT_USER_LIMIT: int(60, 0, 1_000_000_000).meta({
    description:
      'New connections (either socket kind) per user per `CONNECT_USER_WINDOW`, counted in Redis after the token check; `0` switches it off.',
  }),
  CONNECT_USER_WINDOW: duration('1m').meta({ description: 'The window of `CONNECT_USER_LIMIT`.' }),
  HANDSHAKE_ADDRESS_LIMIT: int(600, 0, 1_000_000_000).meta({
    description: 'Socket handshakes (either kind, refused ones included) per client address per `HANDSHAKE_ADDRESS_WINDOW`; `0` switches it off.',
  }),
  HANDSHAKE_ADDRESS_WINDOW: duration('1m').meta({ description: 'The window of `HANDSHAKE_ADDRESS_LIMIT`.' }),
};

/** Every variable a gateway reads. */
export const GATEWAY_VARIABLES = [...COMMON_VARIABLES, ...Object.keys(gatewayShape)];

/** Reads the gateway's configuration once at start-up; throws a ConfigError naming every bad variable. */
export function loadGatewayConfig(env: Env): GatewayConfig {
  const problems: string[] = [];
  const common = readCommonConfig(env, problems);
  const v = readEnv(env, gatewayShape, problems);
  if (v.WEBSOCKET_PING_PERIOD !== undefined && v.WEBSOCKET_PONG_WAIT !== undefined && v.WEBSOCKET_PONG_WAIT <= v.WEBSOCKET_PING_PERIOD) {
    problems.push('WEBSOCKET_PONG_WAIT: must be longer than WEBSOCKET_PING_PERIOD, or every healthy peer would time out');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...common,
    host: v.HOST,
    port: v.PORT,
    metrics: readMetricsConfig(v),
    gatewayId: v.GATEWAY_ID,
    websocket: {
      pingPeriodMs: v.WEBSOCKET_PING_PERIOD,
      pongWaitMs: v.WEBSOCKET_PONG_WAIT,
      maxMessageBytes: v.WEBSOCKET_MAX_MESSAGE_SIZE,
      hardLimitBytes: Math.max(4 * v.WEBSOCKET_MAX_MESSAGE_SIZE, 64 * 1024),
      maxBufferedBytes: v.WEBSOCKET_MAX_BUFFERED_BYTES,
      maxQueuedMessages: v.CONNECTION_MAX_QUEUED_MESSAGES,
    },
    socketio: {
      pingIntervalMs: v.SOCKETIO_PING_INTERVAL,
      pingTimeoutMs: v.SOCKETIO_PING_TIMEOUT,
      maxQueuedMessages: v.CONNECTION_MAX_QUEUED_MESSAGES,
      maxBufferedBytes: v.WEBSOCKET_MAX_BUFFERED_BYTES,
    },
    presence: { leaseMs: v.PRESENCE_LEASE, flushMs: v.PRESENCE_FLUSH_INTERVAL },
    connectionLimits: {
      perUser: { points: v.CONNECT_USER_LIMIT, windowMs: v.CONNECT_USER_WINDOW },
      perAddress: { points: v.HANDSHAKE_ADDRESS_LIMIT, windowMs: v.HANDSHAKE_ADDRESS_WINDOW },
    },
    delivery: {
      gapWaitMs: v.DELIVERY_GAP_WAIT,
      pollIntervalMs: v.DELIVERY_POLL_INTERVAL,
      resumeMaxBacklog: v.RESUME_MAX_BACKLOG,
      resumePageSize: v.RESUME_PAGE_SIZE,
    },
  };
}
