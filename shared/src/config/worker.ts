import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, duration, int, port, readEnv, type Env, type VariableMeta } from './env.ts';
import { COMMON_VARIABLES, readCommonConfig, type CommonConfig } from './common.ts';
import { integrationsShape, readIntegrationsConfig, type IntegrationsConfig } from './integrations.ts';
import { metricsShape, readMetricsConfig, type MetricsConfig } from './metrics.ts';

export interface WorkerConfig extends CommonConfig {
  host: string;
  /** The health listener (`/health`, `/ready`). */
  port: number;
  metrics: MetricsConfig;
  workerId: string;
  integrations: IntegrationsConfig;
  webhooks: {
    /** Webhooks one worker delivers to at once (each in order, one event at a time). */
    concurrency: number;
    pollIntervalMs: number;
    timeoutMs: number;
    leaseMs: number;
    maxFailures: number;
    retryBaseMs: number;
    retryMaxMs: number;
    maxRedirects: number;
    retentionMs: number;
  };
  push: {
    /** VAPID_PRIVATE_KEY and VAPID_SUBJECT, with the public key: unset, push is off. */
    vapid: { publicKey: string; privateKey: string; subject: string } | undefined;
    coalesceMs: number;
    ttlSeconds: number;
  };
}

export const workerShape = {
  HOST: z.string().default('0.0.0.0').meta({ description: 'Address the health listener binds.' }),
  PORT: port(8082).meta({ description: 'Port of the health listener (`GET /health`, `GET /ready`); `0` picks a free one.' }),
  ...metricsShape(9102),
  WORKER_ID: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'letters, digits and _ . - only, at most 64')
    .default(`${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`)
    .meta({
      description: 'Names the worker in logs and in the leases it takes; unique per replica.',
      values: 'letters, digits and `_ . -`, at most 64',
      defaultText: '`<hostname>-<pid>-<random>`',
    } satisfies VariableMeta),
  WEBHOOK_CONCURRENCY: int(16, 1, 1000).meta({
    description: 'Webhooks one worker delivers to at once; each webhook gets its events one at a time, in log order.',
  }),
  WEBHOOK_POLL_INTERVAL: duration('250ms').meta({
    description: 'How often a worker looks for webhooks that are behind the log or due for a retry: the added delivery latency at most.',
  }),
  WEBHOOK_TIMEOUT: duration('10s').meta({ description: 'An attempt (each redirect hop) not answered within this fails.' }),
  WEBHOOK_LEASE: duration('30s').meta({
    description:
      "How long a worker holds a webhook it delivers to (renewed with each acknowledgement); a dead worker's webhooks go to another after this. Longer than `WEBHOOK_TIMEOUT`.",
  }),
  WEBHOOK_MAX_FAILURES: int(10, 1, 1000).meta({
    description: 'Failed attempts in a row after which a webhook is paused (`POST /api/webhooks/{id}/resume` restarts it).',
  }),
  WEBHOOK_RETRY_BASE: duration('1s').meta({
    description: 'The wait after the first failed attempt; it doubles with each further failure (with jitter), up to `WEBHOOK_RETRY_MAX`.',
  }),
  WEBHOOK_RETRY_MAX: duration('1h').meta({ description: 'The longest wait between attempts.' }),
  WEBHOOK_MAX_REDIRECTS: int(3, 0, 10).meta({ description: 'Redirects an attempt follows (each target checked again); more is a failure.' }),
  WEBHOOK_DELIVERY_RETENTION: duration('72h').meta({ description: 'Attempts older than this are deleted from `GET /api/webhooks/{id}/deliveries`.' }),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{40,50}$/, 'must be a VAPID private key (base64url)')
    .optional()
    .meta({
      description: 'The VAPID private key the worker signs pushes with; with `VAPID_PUBLIC_KEY`. Unset: no push.',
      values: 'base64url',
    } satisfies VariableMeta),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, 'must be a mailto: or https: URL')
    .default('mailto:admin@localhost')
    .meta({ description: 'Who push services contact about this sender (`mailto:` or `https:`), sent in the VAPID claims.' }),
  PUSH_COALESCE_WINDOW: duration('30s').meta({
    description: 'At most one push per user and conversation per window; what comes meanwhile goes in one follow-up ("3 new messages").',
  }),
  PUSH_TTL: duration('24h').meta({ description: 'How long a push service keeps a notification for a device that is offline.' }),
};

/** Every variable a worker reads. */
export const WORKER_VARIABLES = [...COMMON_VARIABLES, ...Object.keys(integrationsShape), ...Object.keys(workerShape)];

/** Reads the worker's configuration once at start-up; throws a ConfigError naming every bad variable. */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const problems: string[] = [];
  const common = readCommonConfig(env, problems);
  const v = readEnv(env, workerShape, problems);
  const integrations = readIntegrationsConfig(readEnv(env, integrationsShape, problems));
  if (v.WEBHOOK_LEASE !== undefined && v.WEBHOOK_TIMEOUT !== undefined && v.WEBHOOK_LEASE <= v.WEBHOOK_TIMEOUT) {
    problems.push('WEBHOOK_LEASE: must be longer than WEBHOOK_TIMEOUT, or a slow attempt would lose its lease');
  }
  if ((integrations.vapidPublicKey === undefined) !== (v.VAPID_PRIVATE_KEY === undefined)) {
    problems.push('VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: set both or neither');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...common,
    host: v.HOST,
    port: v.PORT,
    metrics: readMetricsConfig(v),
    workerId: v.WORKER_ID,
    integrations,
    webhooks: {
      concurrency: v.WEBHOOK_CONCURRENCY,
      pollIntervalMs: v.WEBHOOK_POLL_INTERVAL,
      timeoutMs: v.WEBHOOK_TIMEOUT,
      leaseMs: v.WEBHOOK_LEASE,
      maxFailures: v.WEBHOOK_MAX_FAILURES,
      retryBaseMs: v.WEBHOOK_RETRY_BASE,
      retryMaxMs: v.WEBHOOK_RETRY_MAX,
      maxRedirects: v.WEBHOOK_MAX_REDIRECTS,
      retentionMs: v.WEBHOOK_DELIVERY_RETENTION,
    },
    push: {
      vapid:
        integrations.vapidPublicKey && v.VAPID_PRIVATE_KEY
          ? { publicKey: integrations.vapidPublicKey, privateKey: v.VAPID_PRIVATE_KEY, subject: v.VAPID_SUBJECT }
          : undefined,
      coalesceMs: v.PUSH_COALESCE_WINDOW,
      ttlSeconds: Math.round(v.PUSH_TTL / 1000),
    },
  };
}
