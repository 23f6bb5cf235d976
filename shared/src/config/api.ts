import { ConfigError, duration, int, port, readEnv, type Env } from './env.ts';
import { COMMON_VARIABLES, readCommonConfig, type CommonConfig } from './common.ts';
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
  /** How long a stopping replica keeps serving with `Connection: close` (see server.ts); SHUTDOWN_TIMEOUT comes on top. */
  shutdownDrainMs: number;
}

const apiShape = {
  HOST: z.string().default('0.0.0.0'),
  PORT: port(8080),
  ...metricsShape(9100),
  MAX_BODY_BYTES: int(64 * 1024, 1024, 10 * 1024 * 1024),
  PASSWORD_HASH_CONCURRENCY: int(2, 1, 64),
  PASSWORD_HASH_QUEUE: int(64, 0, 10_000),
  // Cluster-wide, in Redis; 0 switches a limit off. See the README's "Limits".
  LOGIN_ACCOUNT_LIMIT: int(10, 0, 1_000_000_000),
  LOGIN_ACCOUNT_WINDOW: duration('15m'),
  LOGIN_ACCOUNT_LOCK: duration('15m', { allowZero: true }),
  LOGIN_ADDRESS_LIMIT: int(100, 0, 1_000_000_000),
  LOGIN_ADDRESS_WINDOW: duration('15m'),
  REGISTER_ADDRESS_LIMIT: int(50, 0, 1_000_000_000),
  REGISTER_ADDRESS_WINDOW: duration('1h'),
  MAX_ROOMS_PER_USER: int(100, 1, 1_000_000),
  MAX_MEMBERS_PER_ROOM: int(1000, 1, 1_000_000),
  // Longer than nginx's upstream keepalive_timeout (4s in nginx.conf).
  SHUTDOWN_DRAIN: duration('5s', { allowZero: true }),
};

/** Every variable the API reads. */
export const API_VARIABLES = [...COMMON_VARIABLES, ...Object.keys(apiShape)];

/** Reads the API's configuration once at start-up; throws a ConfigError naming every bad variable. */
export function loadApiConfig(env: Env): ApiConfig {
  const problems: string[] = [];
  const common = readCommonConfig(env, problems);
  const v = readEnv(env, apiShape, problems);
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
    shutdownDrainMs: v.SHUTDOWN_DRAIN,
  };
}
