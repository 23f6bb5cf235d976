import { ConfigError, duration, int, port, readEnv, type Env } from './env.ts';
import { COMMON_VARIABLES, readCommonConfig, type CommonConfig } from './common.ts';
import { z } from 'zod';

export interface ApiConfig extends CommonConfig {
  host: string;
  port: number;
  bodyLimitBytes: number;
  passwordHashing: { concurrency: number; maxQueue: number };
  /** How long a stopping replica keeps serving with `Connection: close` (see server.ts); SHUTDOWN_TIMEOUT comes on top. */
  shutdownDrainMs: number;
}

const apiShape = {
  HOST: z.string().default('0.0.0.0'),
  PORT: port(8080),
  MAX_BODY_BYTES: int(64 * 1024, 1024, 10 * 1024 * 1024),
  PASSWORD_HASH_CONCURRENCY: int(2, 1, 64),
  PASSWORD_HASH_QUEUE: int(64, 0, 10_000),
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
    bodyLimitBytes: v.MAX_BODY_BYTES,
    passwordHashing: { concurrency: v.PASSWORD_HASH_CONCURRENCY, maxQueue: v.PASSWORD_HASH_QUEUE },
    shutdownDrainMs: v.SHUTDOWN_DRAIN,
  };
}
