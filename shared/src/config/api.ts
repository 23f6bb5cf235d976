import { ConfigError, duration, int, port, readEnv, type Env, type VariableMeta } from './env.ts';
import type { UploadLimits } from '../chat/uploads.ts';
import { DEFAULT_ALLOWED_TYPES } from '../storage/types.ts';
import { COMMON_VARIABLES, readCommonConfig, type CommonConfig } from './common.ts';
import { integrationsShape, readIntegrationsConfig, type IntegrationsConfig } from './integrations.ts';
import { metricsShape, readMetricsConfig, type MetricsConfig } from './metrics.ts';
import { z } from 'zod';
import type { RateLimit } from '../limits/rate-limits.ts';

export interface ApiConfig extends CommonConfig {
  host: string;
  port: number;
  metrics: MetricsConfig;
  bodyLimitBytes: number;
  passwordHashing: { concurrency: number; maxQueue: number };
  /** Login attempts, counted before any password is hashed: per account name (known or not) and per client address. */
  loginLimits: { perAccount: RateLimit; perAddress: RateLimit };
  /** Registrations per client address. */
  registerLimit: RateLimit;
  /** MAX_ROOMS_PER_USER (rooms a user may belong to) and MAX_MEMBERS_PER_ROOM; beyond them, 409 `conflict`. */
  roomLimits: { maxRoomsPerUser: number; maxMembersPerRoom: number };
  /** Attachments: one file's size, a user's bytes per day, the types a file's content may be, how long unattached uploads stay, and the clocks of a slow client. */
  uploads: UploadLimits & { idleTimeoutMs: number; timeoutMs: number; sweepIntervalMs: number };
  /** Outbound targets and the VAPID public key (shared with the worker). */
  integrations: IntegrationsConfig;
  /** WEBHOOK_MAX_PER_USER and WEBHOOK_CREATE_LIMIT. */
  webhooks: { maxPerUser: number; createLimit: RateLimit };
  /** How long a stopping replica keeps serving with `Connection: close` (see server.ts); SHUTDOWN_TIMEOUT comes on top. */
  shutdownDrainMs: number;
}

/** The API's own variables (besides the database and the shared ones). */
export const apiShape = {
  HOST: z.string().default('0.0.0.0').meta({ description: 'Address the HTTP listener binds.' }),
  PORT: port(8080).meta({ description: 'Port of the HTTP listener; `0` picks a free one.' }),
  ...metricsShape(9100),
  MAX_BODY_BYTES: int(64 * 1024, 1024, 10 * 1024 * 1024).meta({ description: 'Request bodies larger than this (bytes) get 413.' }),
  PASSWORD_HASH_CONCURRENCY: int(2, 1, 64).meta({ description: 'argon2 hashes running at once in one replica.' }),
  PASSWORD_HASH_QUEUE: int(64, 0, 10_000).meta({
    description: 'Hashes waiting beyond `PASSWORD_HASH_CONCURRENCY`; more are refused with 503 `busy`.',
  }),
  LOGIN_ACCOUNT_LIMIT: int(10, 0, 1_000_000_000).meta({
    description:
      'Login attempts per account name (existing or not, as typed, case folded) per `LOGIN_ACCOUNT_WINDOW`, counted in Redis before any password is hashed; beyond it the name is locked for `LOGIN_ACCOUNT_LOCK`. A successful login clears the count. `0` switches it off.',
  }),
  LOGIN_ACCOUNT_WINDOW: duration('15m').meta({ description: 'The window of `LOGIN_ACCOUNT_LIMIT`.' }),
  LOGIN_ACCOUNT_LOCK: duration('15m', { allowZero: true }).meta({
    description: 'How long an account name stays locked after `LOGIN_ACCOUNT_LIMIT`.',
  }),
  LOGIN_ADDRESS_LIMIT: int(100, 0, 1_000_000_000).meta({
    description: 'Login attempts per client address per `LOGIN_ADDRESS_WINDOW` (see `TRUSTED_PROXIES`); `0` switches it off.',
  }),
  LOGIN_ADDRESS_WINDOW: duration('15m').meta({ description: 'The window of `LOGIN_ADDRESS_LIMIT`.' }),
  REGISTER_ADDRESS_LIMIT: int(50, 0, 1_000_000_000).meta({
    description: 'Registrations per client address per `REGISTER_ADDRESS_WINDOW`; `0` switches it off.',
  }),
  REGISTER_ADDRESS_WINDOW: duration('1h').meta({ description: 'The window of `REGISTER_ADDRESS_LIMIT`.' }),
  MAX_ROOMS_PER_USER: int(100, 1, 1_000_000).meta({
    description: 'Rooms one user may belong to (created or added to); beyond it, creating a room or being added answers 409 `conflict`.',
  }),
  MAX_MEMBERS_PER_ROOM: int(1000, 1, 1_000_000).meta({ description: 'Members one room may have; beyond it, adding answers 409 `conflict`.' }),
  UPLOAD_MAX_BYTES: int(10 * 1024 * 1024, 1, 1024 * 1024 * 1024).meta({
    description:
      'Bytes one uploaded file may have; a larger one is cut off and refused with 413. nginx.conf lets bodies a little larger than the default through on `/api/uploads` only.',
  }),
  UPLOAD_DAILY_BYTES: int(200 * 1024 * 1024, 0, 1024 ** 4).meta({
    description:
      'Bytes one user may upload over any 24 hours (an upload in progress counts as `UPLOAD_MAX_BYTES` until it is done); beyond it, 429 `rate_limited` with the time until room frees up.',
  }),
  UPLOAD_ALLOWED_TYPES: z
    .string()
    .default(DEFAULT_ALLOWED_TYPES.join(','))
    .transform((text) =>
      text
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    )
    .meta({
      description:
        "What an uploaded file's content may show itself to be (read from its first bytes, never from the client's Content-Type or name); anything else is refused with 400.",
      values: 'comma-separated MIME types',
    } satisfies VariableMeta),
  UPLOAD_ORPHAN_TTL: duration('24h').meta({ description: 'Uploads no message carries are removed this long after they were sent.' }),
  UPLOAD_IDLE_TIMEOUT: duration('15s').meta({
    description: 'An upload that sends nothing for this long is cut off (a slow client does not hold a replica).',
  }),
  UPLOAD_TIMEOUT: duration('2m').meta({ description: 'An upload not finished within this is cut off, however steadily it trickles.' }),
  WEBHOOK_MAX_PER_USER: int(20, 1, 10_000).meta({
    description: 'Webhooks one user (or bot) may have; beyond it, creating one answers 409 `conflict`.',
  }),
  WEBHOOK_CREATE_LIMIT: int(20, 0, 1_000_000).meta({
    description: 'Webhooks one user may create per `WEBHOOK_CREATE_WINDOW`; beyond it, 429. `0` switches it off.',
  }),
  WEBHOOK_CREATE_WINDOW: duration('1h').meta({ description: 'The window of `WEBHOOK_CREATE_LIMIT`.' }),
  SHUTDOWN_DRAIN: duration('5s', { allowZero: true }).meta({
    description:
      "On SIGTERM, keep serving this long with `Connection: close` before closing, so nginx stops reusing pooled connections (longer than nginx's upstream keep-alive, 4s in nginx.conf).",
  }),
};

/** Every variable the API reads. */
export const API_VARIABLES = [...COMMON_VARIABLES, ...Object.keys(integrationsShape), ...Object.keys(apiShape)];

/** Reads the API's configuration once at start-up; throws a ConfigError naming every bad variable. */
export function loadApiConfig(env: Env): ApiConfig {
  const problems: string[] = [];
  const common = readCommonConfig(env, problems);
  const v = readEnv(env, apiShape, problems);
  const integrations = readIntegrationsConfig(readEnv(env, integrationsShape, problems));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...common,
    host: v.HOST,
    port: v.PORT,
    metrics: readMetricsConfig(v),
    bodyLimitBytes: v.MAX_BODY_BYTES,
    passwordHashing: { concurrency: v.PASSWORD_HASH_CONCURRENCY, maxQueue: v.PASSWORD_HASH_QUEUE },
    loginLimits: {
      perAccount: { points: v.LOGIN_ACCOUNT_LIMIT, windowMs: v.LOGIN_ACCOUNT_WINDOW, blockMs: v.LOGIN_ACCOUNT_LOCK },
      perAddress: { points: v.LOGIN_ADDRESS_LIMIT, windowMs: v.LOGIN_ADDRESS_WINDOW },
    },
    registerLimit: { points: v.REGISTER_ADDRESS_LIMIT, windowMs: v.REGISTER_ADDRESS_WINDOW },
    roomLimits: { maxRoomsPerUser: v.MAX_ROOMS_PER_USER, maxMembersPerRoom: v.MAX_MEMBERS_PER_ROOM },
    uploads: {
      maxBytes: v.UPLOAD_MAX_BYTES,
      dailyBytes: v.UPLOAD_DAILY_BYTES,
      allowedTypes: v.UPLOAD_ALLOWED_TYPES,
      orphanTtlMs: v.UPLOAD_ORPHAN_TTL,
      idleTimeoutMs: v.UPLOAD_IDLE_TIMEOUT,
      timeoutMs: v.UPLOAD_TIMEOUT,
      sweepIntervalMs: Math.min(60_000, v.UPLOAD_ORPHAN_TTL),
    },
    integrations,
    webhooks: { maxPerUser: v.WEBHOOK_MAX_PER_USER, createLimit: { points: v.WEBHOOK_CREATE_LIMIT, windowMs: v.WEBHOOK_CREATE_WINDOW } },
    shutdownDrainMs: v.SHUTDOWN_DRAIN,
  };
}
