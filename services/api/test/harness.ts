import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { inject, vi } from 'vitest';
import { type ApiConfig, loadApiConfig } from '@chat/shared/config';
import { createLogger } from '@chat/shared/logger';
import { createMetrics, type Metrics, startMetricsServer } from '@chat/shared/metrics';
import type { ChatMessage } from '@chat/shared/model';
import { deletePrefix, uniquePrefix, withTestRedis } from '@chat/shared/testing';
import { type AppDeps, createApp } from '../src/app.ts';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { buildAppDeps, type Resources } from '../src/dependencies.ts';
import { listen } from '../src/server.ts';
import { OPENAPI_PATH } from '../src/openapi/document.ts';
import { openApiContract, type OpenApiDocument } from './contract.ts';
import { recordRouting } from './events.ts';

export interface TestApi {
  url: string;
  /** The app's own metrics endpoint (`METRICS_PORT` 0), as main.ts serves it. */
  metricsUrl: string;
  metrics: Metrics;
  config: ApiConfig;
  resources: Resources;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /**
   * A request to the app. Its response is checked against the app's own
   * OpenAPI document (documented status, body matching that status's schema)
   * and the call throws when it does not conform, so every route test is a
   * contract test too.
   */
  fetch(path: string, init?: RequestInit & { token?: string; json?: unknown }): Promise<Response>;
  /** The document the responses are checked against, as the app serves it. */
  openapi: OpenApiDocument;
  /** Every method and path the app registered a handler for (middleware excluded), in OpenAPI's `{param}` form. */
  routes: Array<{ method: string; path: string }>;
  /** Stops the app; `drainMs` as in RunningServer.close. */
  close(drainMs?: number): Promise<void>;
}

/**
 * Every test client comes from 127.0.0.1, so the cluster-wide limits are counted
 * (the code path runs) but set far above what a test file does; the limit tests
 * set small ones through `env`.
 */
const GENEROUS_LIMITS: Record<string, string> = {
  LOGIN_ACCOUNT_LIMIT: '100000',
  LOGIN_ADDRESS_LIMIT: '100000',
  REGISTER_ADDRESS_LIMIT: '100000',
  MESSAGE_RATE_LIMIT: '1000000',
  CONNECT_USER_LIMIT: '100000',
  HANDSHAKE_ADDRESS_LIMIT: '100000',
};

/**
 * Configuration as production would read it, pointed at this run's database and a fresh Redis prefix,
 * on the shared test Redis (a cluster on a cluster run) unless `env` names a Redis of its own.
 */
export function testConfig(env: Record<string, string> = {}): ApiConfig {
  return loadApiConfig(testEnv(env));
}

/** A service's test environment: this run's database, a fresh Redis prefix on the shared test Redis unless `env` names others. */
export function testEnv(env: Record<string, string> = {}): Record<string, string> {
  return withTestRedis({
    ENVIRONMENT: 'test',
    DATABASE_URL: inject('databaseUrl'),
    REDIS_PREFIX: uniquePrefix(),
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256',
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    ...GENEROUS_LIMITS,
    ...env,
  });
}

/**
 * Starts the real app on a random port against the run's PostgreSQL database and real Redis.
 * `deps` replaces some of what main would wire (e.g. `webRoot`, to serve a directory of the test's own).
 */
export async function startApi(env: Record<string, string> = {}, deps: Partial<AppDeps> = {}): Promise<TestApi> {
  const config = testConfig(env);
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: config.logLevel, service: 'api', destination });
  const metrics = createMetrics({ service: 'api' });
  const resources = openConnections(config, logger, () => metrics.dependencyErrors.inc({ dependency: 'postgres' }));
  resources.redis.on('error', () => metrics.dependencyErrors.inc({ dependency: 'redis' }));
  // Every event it routes also reaches the tests' taps (events.ts).
  const app = createApp({ ...buildAppDeps(config, resources, logger, metrics, recordRouting(config.redis.prefix)), ...deps });
  const server = await listen(app, config);
  const metricsServer = await startMetricsServer(metrics.registry, config.metrics);
  const url = `http://127.0.0.1:${server.port}`;
  const openapi = (await (await fetch(url + OPENAPI_PATH)).json()) as OpenApiDocument;
  const contract = openApiContract(openapi);

  return {
    url,
    metricsUrl: `http://127.0.0.1:${metricsServer.port}/metrics`,
    metrics,
    config,
    resources,
    logs,
    openapi,
    routes: registeredRoutes(app.routes),
    async fetch(path, init = {}) {
      const { token, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      const res = await fetch(url + path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
      const isJson = res.headers.get('content-type')?.startsWith('application/json') === true;
      const body: unknown = isJson ? await res.clone().json() : undefined;
      const problems = contract.problems(rest.method ?? 'GET', path, res.status, body);
      if (problems.length > 0) throw new Error(`response does not match the OpenAPI document:\n${problems.join('\n')}`);
      return res;
    },
    async close(drainMs = 0) {
      await server.close(drainMs);
      await metricsServer.close();
      await closeConnections(resources);
      await deletePrefix(config.redis.prefix);
    },
  };
}

/** Hono lists middleware as method ALL; a route's chain of handlers appears once per handler. */
function registeredRoutes(routes: ReadonlyArray<{ method: string; path: string }>) {
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of routes) {
    if (r.method === 'ALL') continue;
    const route = { method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, '{$1}') };
    seen.set(`${route.method} ${route.path}`, route);
  }
  return [...seen.values()];
}

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  token: string;
  cookie: string;
}

let counter = 0;
export const uniqueName = (base = 'user') => `${base}_${randomBytes(3).toString('hex')}${counter++}`;

/** Registers and logs in a fresh user. */
export async function createUser(api: TestApi, overrides: { username?: string; password?: string } = {}): Promise<TestUser> {
  const username = overrides.username ?? uniqueName();
  const password = overrides.password ?? 'correct horse battery';
  const email = `${username.toLowerCase()}@example.test`;
  const registered = await api.fetch('/api/auth/register', { method: 'POST', json: { username, email, password } });
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${await registered.text()}`);
  const login = await api.fetch('/api/auth/login', { method: 'POST', json: { username, password } });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  const body = (await login.json()) as { token: string; user: { id: string } };
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('jwt_token=')) ?? '';
  return { id: body.user.id, username, email, password, token: body.token, cookie: cookie.split(';')[0] ?? '' };
}

export async function createRoom(api: TestApi, owner: TestUser, name = 'room'): Promise<{ id: string }> {
  const res = await api.fetch('/api/rooms', { method: 'POST', token: owner.token, json: { name } });
  if (res.status !== 201) throw new Error(`create room failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string };
}

export async function sendMessage(api: TestApi, from: TestUser, body: Record<string, unknown>) {
  const res = await api.fetch('/api/messages', { method: 'POST', token: from.token, json: body });
  if (res.status !== 201) throw new Error(`send failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as ChatMessage;
}

/** Polls a request until it stops answering 503 (a Redis client still reconnecting), then returns the status. */
export function settledStatus(request: () => Promise<Response>, timeoutMs = 10_000): Promise<number> {
  return vi.waitFor(
    async () => {
      const { status } = await request();
      if (status === 503) throw new Error(`still 503 after ${timeoutMs} ms`);
      return status;
    },
    { timeout: timeoutMs, interval: 50 },
  );
}
