import { z } from 'zod';
import { addressList, duration, int, readEnv, type Env } from './env.ts';
import type { RateLimit } from '../limits/rate-limits.ts';
import type { RedisConfig } from '../redis.ts';

/**
 * Used when JWT_SECRET is unset and development defaults were asked for by setting
 * ENVIRONMENT=development or ENVIRONMENT=test explicitly; production refuses it.
 * With ENVIRONMENT unset a missing JWT_SECRET stops start-up: a deployment that
 * forgot both must not sign tokens with a secret published in this repository.
 */
export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-do-not-use-in-production';
const DEVELOPMENT_ORIGINS = ['http://localhost:8080'];

const environment = z.enum(['development', 'test', 'production']).default('development');

const databaseShape = {
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }).optional(),
  DB_HOST: z.string().default('127.0.0.1'),
  DB_PORT: int(5432, 1, 65_535),
  DB_NAME: z
    .string()
    .regex(/^[\w-]+$/)
    .default('chat'),
  DB_USER: z.string().default('postgres'),
  DB_PASSWORD: z.string().default(''),
  DB_SSLMODE: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).default('disable'),
  DB_POOL_MAX: int(10, 1, 200),
  // A pool that cannot reach PostgreSQL fails the query instead of waiting forever.
  DB_CONNECT_TIMEOUT: duration('5s'),
};

const sharedShape = {
  ENVIRONMENT: environment,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  // A Redis Cluster instead of REDIS_URL's single node: some or all of its nodes, to discover it from.
  REDIS_CLUSTER_NODES: redisNodeList(),
  // Only with REDIS_CLUSTER_NODES (a single node takes its credentials from REDIS_URL): the ACL user and its password.
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'letters, digits and : _ . - only, at most 64')
    .default('chat:'),
  JWT_SECRET: z.string().optional(),
  JWT_EXPIRY_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
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
    }),
  MESSAGE_MAX_LENGTH: int(2000, 1, 100_000),
  // Peers whose X-Forwarded-For / X-Real-IP are believed; anyone else is their own socket address.
  TRUSTED_PROXIES: addressList('127.0.0.0/8,::1'),
  // Messages one user may send per window over REST, Socket.IO and plain WS together (0: no limit).
  MESSAGE_RATE_LIMIT: int(100, 0, 1_000_000_000),
  MESSAGE_RATE_WINDOW: duration('10s'),
  // Each PostgreSQL statement of the services (not migrations): a slow or silent server answers 503, never a hang.
  DB_QUERY_TIMEOUT: duration('5s'),
  // A Redis that accepts connections but does not answer fails the command (503) instead of hanging it.
  REDIS_COMMAND_TIMEOUT: duration('2s'),
  // Below compose's health check timeout (5s), so a hung dependency reads as 503, not as no answer.
  HEALTH_TIMEOUT: duration('2s'),
  // How long a stopping process may take before it exits non-zero (the API adds SHUTDOWN_DRAIN).
  SHUTDOWN_TIMEOUT: duration('10s'),
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
  chat: { maxMessageLength: number };
  /** TRUSTED_PROXIES: IPs and CIDR ranges allowed to name the client's address. */
  trustedProxies: string[];
  /** Messages per user over every transport; counted in the one write path. */
  messageRateLimit: RateLimit;
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
    });
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
  return {
    environment: v.ENVIRONMENT,
    logLevel: v.LOG_LEVEL,
    database: { ...readDatabaseConfig(env, problems), queryTimeoutMs: v.DB_QUERY_TIMEOUT },
    redis: { url: v.REDIS_URL, cluster: readRedisCluster(env, v, problems), prefix: v.REDIS_PREFIX, commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT },
    jwt: { secret: secret ?? '', expiryHours: v.JWT_EXPIRY_HOURS },
    corsOrigins: v.CORS_ALLOWED_ORIGINS ?? (v.ENVIRONMENT === 'production' ? [] : DEVELOPMENT_ORIGINS),
    chat: { maxMessageLength: v.MESSAGE_MAX_LENGTH },
    trustedProxies: v.TRUSTED_PROXIES,
    messageRateLimit: { points: v.MESSAGE_RATE_LIMIT, windowMs: v.MESSAGE_RATE_WINDOW },
    healthTimeoutMs: v.HEALTH_TIMEOUT,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT,
  };
}
