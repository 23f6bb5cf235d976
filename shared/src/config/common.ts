import { z } from 'zod';
import { addressList, duration, int, readEnv, type Env, type VariableMeta } from './env.ts';
import type { RateLimit } from '../limits/rate-limits.ts';
import type { RedisConfig } from '../redis.ts';
import type { S3Settings } from '../storage/s3.ts';

/**
 * Used when JWT_SECRET is unset and development defaults were asked for by setting
 * ENVIRONMENT=development or ENVIRONMENT=test explicitly; production refuses it.
 * With ENVIRONMENT unset a missing JWT_SECRET stops start-up: a deployment that
 * forgot both must not sign tokens with a secret published in this repository.
 */
export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-do-not-use-in-production';
const DEVELOPMENT_ORIGINS = ['http://localhost:8080'];

const environment = z.enum(['development', 'test', 'production']).default('development');

/** The variables of the PostgreSQL connection: every service and the migration command read them. */
export const databaseShape = {
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
    .optional()
    .meta({
      description: 'The PostgreSQL connection; takes precedence over every `DB_*` variable below.',
      values: '`postgres://` or `postgresql://` URL',
      defaultText: 'built from `DB_*`',
    } satisfies VariableMeta),
  DB_HOST: z.string().default('127.0.0.1').meta({ description: 'PostgreSQL host, when `DATABASE_URL` is unset.' }),
  DB_PORT: int(5432, 1, 65_535).meta({ description: 'PostgreSQL port, when `DATABASE_URL` is unset.' }),
  DB_NAME: z
    .string()
    .regex(/^[\w-]+$/)
    .default('chat')
    .meta({ description: 'Database name, when `DATABASE_URL` is unset.', values: 'letters, digits, `_` and `-`' } satisfies VariableMeta),
  DB_USER: z.string().default('postgres').meta({ description: 'PostgreSQL role, when `DATABASE_URL` is unset.' }),
  DB_PASSWORD: z.string().default('').meta({ description: "The role's password, when `DATABASE_URL` is unset." }),
  DB_SSLMODE: z
    .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
    .default('disable')
    .meta({ description: "libpq's `sslmode`, when `DATABASE_URL` is unset." }),
  DB_POOL_MAX: int(10, 1, 200).meta({ description: 'PostgreSQL connections per process.' }),
  DB_CONNECT_TIMEOUT: duration('5s').meta({
    description: 'A query that cannot get a PostgreSQL connection this fast fails instead of waiting for ever (503 `unavailable` on a request).',
  }),
};

/** The variables both services (api, gateway) read besides the database. */
export const sharedShape = {
  ENVIRONMENT: environment.meta({
    description:
      'Production makes the auth cookie `Secure`, refuses the development `JWT_SECRET` and has no default CORS origin. Setting `development` or `test` explicitly (not leaving it unset) is what allows the built-in development `JWT_SECRET`; `npm start`, the load-test runner and the tests set it.',
  }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .meta({ description: 'pino log level (one JSON object per line on stdout).' }),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
    .default('redis://127.0.0.1:6379')
    .meta({
      description:
        'A single Redis, credentials in the URL (`redis://user:password@host:port`). Mutually exclusive with `REDIS_CLUSTER_NODES`: setting both stops start-up (an empty `REDIS_URL` counts as unset).',
      values: '`redis://` or `rediss://` URL',
    } satisfies VariableMeta),
  REDIS_CLUSTER_NODES: redisNodeList().meta({
    description:
      'A Redis Cluster instead of `REDIS_URL`: some or all of its nodes, to discover it from (listing every master lets a process start while one is down).',
  }),
  REDIS_USERNAME: z.string().optional().meta({
    description:
      'Only with `REDIS_CLUSTER_NODES`: the ACL user for every node (a single Redis takes its credentials from `REDIS_URL`; setting this without `REDIS_CLUSTER_NODES` is a configuration error).',
  }),
  REDIS_PASSWORD: z.string().optional().meta({
    description: 'Only with `REDIS_CLUSTER_NODES`: the password for every node; required with `REDIS_USERNAME`.',
  }),
  REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'letters, digits and : _ . - only, at most 64')
    .default('chat:')
    .meta({
      description: "Namespaces every Redis key and channel; one cluster, one prefix. It cannot hold a brace, so the hash tags stay the code's own.",
      values: 'letters, digits and `: _ . -`, at most 64',
    } satisfies VariableMeta),
  JWT_SECRET: z
    .string()
    .optional()
    .meta({
      description:
        'The HS256 signing key. Required: a missing secret stops start-up unless `ENVIRONMENT` is set explicitly to `development` or `test` (then a published development value is used); production refuses that value and anything under 32 characters, other environments anything under 16.',
      defaultText: 'none: required',
    } satisfies VariableMeta),
  JWT_EXPIRY_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24)
    .meta({ description: 'Token lifetime.', values: 'hours, fractions allowed, at most 720' } satisfies VariableMeta),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const origins = text
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
      for (const origin of origins) {
        if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
          ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin such as https://chat.example.com` });
        }
      }
      return origins;
    })
    .meta({
      description:
        'Browser origins allowed by CORS, the Origins the gateways accept on both socket kinds, and the only Origins from which a `POST`/`PUT`/`PATCH`/`DELETE` authenticated by the `jwt_token` cookie alone is accepted (CSRF: other Origins, and requests without one whose `Sec-Fetch-Site` is `cross-site` or `same-site`, get 403 `forbidden`; Bearer requests and clients sending neither header are unaffected).',
      values: 'comma-separated origins (`https://host[:port]`)',
      defaultText: '`http://localhost:8080` outside production, none in production',
    } satisfies VariableMeta),
  MESSAGE_MAX_LENGTH: int(2000, 1, 100_000).meta({ description: 'Characters (code points) of message content.' }),
  MESSAGE_EDIT_WINDOW: duration('0', { allowZero: true }).meta({
    description: 'How long after sending a message its sender may still edit it; `0` means no limit. Deleting is never limited.',
  }),
  TRUSTED_PROXIES: addressList('127.0.0.0/8,::1').meta({
    description:
      'Peers whose `X-Forwarded-For` / `X-Real-IP` name the client, for the per-address limits (read from the right, skipping trusted hops); any other peer is its own socket address. Compose adds the private ranges its nginx connects from.',
  }),
  MESSAGE_RATE_LIMIT: int(100, 0, 1_000_000_000).meta({
    description: 'Messages one user may send per `MESSAGE_RATE_WINDOW`, over REST, Socket.IO and plain WebSocket together; `0` switches it off.',
  }),
  MESSAGE_RATE_WINDOW: duration('10s').meta({ description: 'The window of `MESSAGE_RATE_LIMIT`.' }),
  REACTION_RATE_LIMIT: int(60, 0, 1_000_000_000).meta({
    description: 'Reactions one user may add or remove per `REACTION_RATE_WINDOW`, over every transport together; `0` switches it off.',
  }),
  REACTION_RATE_WINDOW: duration('10s').meta({ description: 'The window of `REACTION_RATE_LIMIT`.' }),
  READ_RATE_LIMIT: int(120, 0, 1_000_000_000).meta({
    description:
      'Read marks (`PUT /api/conversations/{id}/read`, the socket `read` command) one user may make per `READ_RATE_WINDOW`, over every transport together; `0` switches it off.',
  }),
  READ_RATE_WINDOW: duration('10s').meta({ description: 'The window of `READ_RATE_LIMIT`.' }),
  TYPING_RATE_LIMIT: int(60, 0, 1_000_000_000).meta({
    description:
      'Typing signals one user may send per `TYPING_RATE_WINDOW`, over every conversation and connection together (each conversation also forwards at most one per user every 2 s and drops the rest quietly); `0` switches it off.',
  }),
  TYPING_RATE_WINDOW: duration('10s').meta({ description: 'The window of `TYPING_RATE_LIMIT`.' }),
  TOKEN_CREATE_LIMIT: int(20, 0, 1_000_000).meta({
    description: 'Access tokens and bots one user may create per `TOKEN_CREATE_WINDOW`; beyond it, 429. `0` switches it off.',
  }),
  TOKEN_CREATE_WINDOW: duration('1h').meta({ description: 'The window of `TOKEN_CREATE_LIMIT`.' }),
  READ_RECEIPTS_MAX_MEMBERS: int(50, 0, 1_000_000).meta({
    description:
      "Rooms of at most this many members send `read_receipt` to their members when one of them reads (direct conversations always do); larger rooms' positions are read with `GET /api/conversations/{id}/reads`.",
  }),
  REACTIONS_MAX_DISTINCT: int(20, 1, 200).meta({
    description: 'Different emoji one message may carry; a reaction with a new one beyond it gets 409 `conflict`.',
  }),
  STORAGE: z.enum(['postgres', 's3']).default('postgres').meta({
    description:
      "Where uploaded files' bytes live: `postgres` (chunks in the cluster's database, nothing else to run) or `s3` (an S3-compatible object store, the `S3_*` variables).",
  }),
  S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional()
    .meta({ description: 'With `STORAGE=s3`: the S3-compatible endpoint (unset: AWS S3 of `S3_REGION`).', values: '`http(s)://` URL' }),
  S3_REGION: z.string().default('us-east-1').meta({ description: 'With `STORAGE=s3`: the region requests are signed for.' }),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lower-case letters, digits, . and -)')
    .default('chat-uploads')
    .meta({ description: 'With `STORAGE=s3`: the bucket; created at start-up when missing.' }),
  S3_ACCESS_KEY_ID: z.string().optional().meta({ description: "With `STORAGE=s3`: the access key (unset: the AWS SDK's default credential chain)." }),
  S3_SECRET_ACCESS_KEY: z.string().optional().meta({ description: 'With `STORAGE=s3`: the secret key, with `S3_ACCESS_KEY_ID`.' }),
  S3_FORCE_PATH_STYLE: z.stringbool({ error: 'must be true or false' }).default(true).meta({
    description:
      'With `STORAGE=s3`: path-style URLs (`endpoint/bucket/key`), which S3-compatible servers expect; `false` for virtual-hosted AWS buckets.',
  }),
  DB_QUERY_TIMEOUT: duration('5s').meta({
    description:
      "Each PostgreSQL statement of the services (the server's `statement_timeout` and the client's wait for an answer); a slower or silent server gets the request a 503 `unavailable`, never a hang. Migrations run without it.",
  }),
  REDIS_COMMAND_TIMEOUT: duration('2s').meta({
    description:
      'Each Redis command, queued ones included: a Redis that accepts connections but does not answer (or, on a cluster, no node at all) gets the request a 503 `unavailable` instead of a hang.',
  }),
  HEALTH_TIMEOUT: duration('2s').meta({
    description:
      "Each `/health` probe (PostgreSQL, Redis); a slower dependency counts as down (503). Keep it below the health check's own timeout (compose: 5s).",
  }),
  SHUTDOWN_TIMEOUT: duration('10s').meta({
    description:
      "On SIGTERM, exit non-zero if stopping takes longer; the API allows `SHUTDOWN_DRAIN` on top. Keep the sum below the orchestrator's grace period (compose: `stop_grace_period`).",
  }),
};

export type Environment = z.output<typeof environment>;

/** Every variable the services' shared configuration reads. */
export const COMMON_VARIABLES = [...Object.keys(databaseShape), ...Object.keys(sharedShape)];
/** Every variable the migration command reads. */
export const DATABASE_VARIABLES = Object.keys(databaseShape);

export interface DatabaseConfig {
  url: string;
  poolMax: number;
  connectTimeoutMs: number;
}

export interface CommonConfig {
  environment: Environment;
  logLevel: string;
  /** `queryTimeoutMs` is DB_QUERY_TIMEOUT; the migration command runs without one. */
  database: DatabaseConfig & { queryTimeoutMs: number };
  /** A single node (`url`) or a cluster (`cluster`, from REDIS_CLUSTER_NODES). */
  redis: RedisConfig;
  jwt: { secret: string; expiryHours: number };
  corsOrigins: string[];
  chat: { maxMessageLength: number; editWindowMs: number; maxDistinctReactions: number };
  /** TRUSTED_PROXIES: IPs and CIDR ranges allowed to name the client's address. */
  trustedProxies: string[];
  /** Messages per user over every transport; counted in the one write path. */
  messageRateLimit: RateLimit;
  /** Reactions per user over every transport. */
  reactionRateLimit: RateLimit;
  /** Read marks and typing signals per user over every transport. */
  readRateLimit: RateLimit;
  typingRateLimit: RateLimit;
  /** Access tokens and bots created per user. */
  tokenCreateLimit: RateLimit;
  /** Rooms up to this size send read receipts. */
  readReceiptsMaxMembers: number;
  /** STORAGE and, for `s3`, where and how. */
  storage: { kind: 'postgres' } | ({ kind: 's3' } & S3Settings);
  /** How long each /health probe (PostgreSQL, Redis) may take. */
  healthTimeoutMs: number;
  /** How long stopping may take before the process exits non-zero. */
  shutdownTimeoutMs: number;
}

/**
 * REDIS_CLUSTER_NODES: comma-separated `host:port` (IPv6 as `[addr]:port`),
 * each listed once. Any one reachable node is enough to discover the cluster;
 * listing every master lets a client start while one is down.
 */
export function redisNodeList() {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const nodes: Array<{ host: string; port: number }> = [];
      const entries = text
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'lists no node; leave it unset for a single Redis (REDIS_URL)' });
      for (const entry of entries) {
        const m = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]+)):(\d{1,5})$/.exec(entry);
        const port = Number(m?.[3]);
        if (!m || port < 1 || port > 65_535) {
          ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port` });
          continue;
        }
        const host = (m[1] ?? m[2]) as string;
        if (nodes.some((n) => n.host === host && n.port === port)) ctx.addIssue({ code: 'custom', message: `"${entry}" is listed twice` });
        nodes.push({ host, port });
      }
      return nodes;
    })
    .meta({ values: 'comma-separated `host:port` (IPv6 `[addr]:port`), each once' } satisfies VariableMeta);
}

/**
 * The cluster the services connect to, if REDIS_CLUSTER_NODES is set. It and
 * REDIS_URL are mutually exclusive: with both set, which one is meant is a
 * guess, and guessing wrong would split the replicas between two Redis
 * deployments that cannot hear each other's events. REDIS_USERNAME and
 * REDIS_PASSWORD go with the cluster only, so nobody believes they apply to
 * REDIS_URL.
 */
function readRedisCluster(
  env: Env,
  v: {
    REDIS_CLUSTER_NODES: Array<{ host: string; port: number }> | undefined;
    REDIS_USERNAME: string | undefined;
    REDIS_PASSWORD: string | undefined;
  },
  problems: string[],
): RedisConfig['cluster'] {
  if (v.REDIS_CLUSTER_NODES === undefined) {
    // Set but invalid: that problem is reported already.
    if (env.REDIS_CLUSTER_NODES) return undefined;
    for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD'] as const) {
      if (v[name] !== undefined) problems.push(`${name}: only used with REDIS_CLUSTER_NODES; a single Redis takes its credentials from REDIS_URL`);
    }
    return undefined;
  }
  if (env.REDIS_URL) {
    problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL (a single Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  }
  if (v.REDIS_USERNAME !== undefined && v.REDIS_PASSWORD === undefined) problems.push('REDIS_PASSWORD: required with REDIS_USERNAME');
  return { nodes: v.REDIS_CLUSTER_NODES, username: v.REDIS_USERNAME, password: v.REDIS_PASSWORD };
}

export function readDatabaseConfig(env: Env, problems: string[]): DatabaseConfig {
  const v = readEnv(env, databaseShape, problems);
  const url =
    v.DATABASE_URL ??
    `postgres://${encodeURIComponent(v.DB_USER)}:${encodeURIComponent(v.DB_PASSWORD)}@${v.DB_HOST}:${v.DB_PORT}/${v.DB_NAME}?sslmode=${v.DB_SSLMODE}`;
  return { url, poolMax: v.DB_POOL_MAX, connectTimeoutMs: v.DB_CONNECT_TIMEOUT };
}

export function readCommonConfig(env: Env, problems: string[]): CommonConfig {
  const v = readEnv(env, sharedShape, problems);
  // Development defaults only on request: ENVIRONMENT set (not defaulted) to development or test.
  const developmentRequested = Boolean(env.ENVIRONMENT) && v.ENVIRONMENT !== 'production';
  let secret = v.JWT_SECRET;
  if (v.ENVIRONMENT === 'production') {
    if (secret === undefined || secret === DEVELOPMENT_JWT_SECRET || secret.length < 32) {
      problems.push('JWT_SECRET: production needs its own secret of at least 32 characters, not the development default');
    }
  } else if (secret === undefined) {
    if (developmentRequested) secret = DEVELOPMENT_JWT_SECRET;
    else {
      problems.push(
        'JWT_SECRET: required; set a random secret of at least 32 characters (openssl rand -hex 32), or set ENVIRONMENT=development explicitly to use the built-in development secret',
      );
    }
  } else if (secret.length < 16) {
    problems.push('JWT_SECRET: must be at least 16 characters');
  }
  if ((v.S3_ACCESS_KEY_ID === undefined) !== (v.S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push('S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both or neither');
  }
  return {
    environment: v.ENVIRONMENT,
    logLevel: v.LOG_LEVEL,
    database: { ...readDatabaseConfig(env, problems), queryTimeoutMs: v.DB_QUERY_TIMEOUT },
    redis: { url: v.REDIS_URL, cluster: readRedisCluster(env, v, problems), prefix: v.REDIS_PREFIX, commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT },
    jwt: { secret: secret ?? '', expiryHours: v.JWT_EXPIRY_HOURS },
    corsOrigins: v.CORS_ALLOWED_ORIGINS ?? (v.ENVIRONMENT === 'production' ? [] : DEVELOPMENT_ORIGINS),
    chat: { maxMessageLength: v.MESSAGE_MAX_LENGTH, editWindowMs: v.MESSAGE_EDIT_WINDOW, maxDistinctReactions: v.REACTIONS_MAX_DISTINCT },
    trustedProxies: v.TRUSTED_PROXIES,
    messageRateLimit: { points: v.MESSAGE_RATE_LIMIT, windowMs: v.MESSAGE_RATE_WINDOW },
    reactionRateLimit: { points: v.REACTION_RATE_LIMIT, windowMs: v.REACTION_RATE_WINDOW },
    readRateLimit: { points: v.READ_RATE_LIMIT, windowMs: v.READ_RATE_WINDOW },
    typingRateLimit: { points: v.TYPING_RATE_LIMIT, windowMs: v.TYPING_RATE_WINDOW },
    readReceiptsMaxMembers: v.READ_RECEIPTS_MAX_MEMBERS,
    tokenCreateLimit: { points: v.TOKEN_CREATE_LIMIT, windowMs: v.TOKEN_CREATE_WINDOW },
    storage:
      v.STORAGE === 's3'
        ? {
            kind: 's3',
            endpoint: v.S3_ENDPOINT,
            region: v.S3_REGION,
            bucket: v.S3_BUCKET,
            accessKeyId: v.S3_ACCESS_KEY_ID,
            secretAccessKey: v.S3_SECRET_ACCESS_KEY,
            forcePathStyle: v.S3_FORCE_PATH_STYLE,
          }
        : { kind: 'postgres' },
    healthTimeoutMs: v.HEALTH_TIMEOUT,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT,
  };
}
