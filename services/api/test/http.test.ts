import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { ERROR_CODES } from '@chat/shared/errors';
import { createLogger } from '@chat/shared/logger';
import { createApp } from '../src/app.ts';
import { buildAppDeps } from '../src/dependencies.ts';
import { createRoom, createUser, startApi, testConfig, type TestApi, type TestUser } from './harness.ts';

let api: TestApi;
let user: TestUser;
beforeAll(async () => {
  api = await startApi();
  user = await createUser(api);
});
afterAll(async () => api.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STACK = /\bat .+:\d+|\.ts\b|node_modules|Error:/;

/** A JSON error body with nothing a stack trace would leave behind. */
async function expectJsonError(res: Response, status: number, body?: Record<string, unknown>) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const text = await res.text();
  expect(text).not.toMatch(STACK);
  const json = JSON.parse(text) as Record<string, unknown>;
  expect(typeof json.error).toBe('string');
  expect(ERROR_CODES).toContain(json.code);
  if (body) expect(json).toEqual(body);
  return json;
}

const completed = (reqId: string) => api.logs.filter((l) => l.reqId === reqId && l.msg === 'request completed');

describe('request ids and logs', () => {
  it('generates an id when none is sent, returns it, and logs the request under it', async () => {
    const res = await api.fetch('/api/messages?limit=1', { token: user.token });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id') ?? '';
    expect(id).toMatch(UUID);
    expect(completed(id)).toEqual([
      expect.objectContaining({
        level: 30,
        service: 'api',
        reqId: id,
        method: 'GET',
        path: '/api/messages',
        status: 200,
        ms: expect.any(Number) as number,
      }),
    ]);
    const other = await api.fetch('/health');
    expect(other.headers.get('x-request-id')).not.toBe(id);
  });

  it.each(['trace-123', 'nginx.abc:def_9', 'a'.repeat(128)])('echoes a sane incoming id (%s)', async (incoming) => {
    const res = await api.fetch('/health', { headers: { 'x-request-id': incoming } });
    expect(res.headers.get('x-request-id')).toBe(incoming);
    expect(completed(incoming)).toHaveLength(1);
  });

  it.each([
    ['spaces', 'has spaces'],
    ['too long', 'a'.repeat(129)],
    ['log-injection characters', 'x"}\\n{"level":60'],
    ['a semicolon', 'a;b'],
  ])('replaces an incoming id with %s', async (_name, incoming) => {
    const res = await api.fetch('/health', { headers: { 'x-request-id': incoming } });
    const id = res.headers.get('x-request-id') ?? '';
    expect(id).toMatch(UUID);
    expect(completed(id)).toHaveLength(1);
    expect(api.logs.filter((l) => l.reqId === incoming)).toEqual([]);
  });

  it('stamps the id on error responses and their log lines too', async () => {
    const res = await api.fetch('/api/messages', { method: 'POST', headers: { 'x-request-id': 'req-err-1' }, json: { content: 'x' } });
    await expectJsonError(res, 401);
    expect(res.headers.get('x-request-id')).toBe('req-err-1');
    expect(completed('req-err-1')).toEqual([expect.objectContaining({ status: 401, method: 'POST' })]);
  });

  it('keeps tokens, passwords and query strings out of the logs, and gives every line a reqId', async () => {
    const secretPassword = 'never-log-this-password';
    const someone = await createUser(api, { password: secretPassword });
    await api.fetch(`/api/messages?limit=1&token=${someone.token}`, { headers: { cookie: someone.cookie } });
    await api.fetch('/api/auth/profile', { token: someone.token });
    const text = JSON.stringify(api.logs);
    expect(text).not.toContain(someone.token);
    expect(text).not.toContain(secretPassword);
    expect(text).not.toContain('token=');
    expect(api.logs.length).toBeGreaterThan(0);
    for (const line of api.logs) expect(line.reqId, JSON.stringify(line)).toEqual(expect.any(String));
  });
});

describe('CORS', () => {
  const allowed = 'http://localhost:8080';

  it('answers a preflight from the allowed origin with credentials', async () => {
    const res = await api.fetch('/api/messages', {
      method: 'OPTIONS',
      headers: { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/DELETE/);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/authorization/);
  });

  it('marks responses to the allowed origin, errors included', async () => {
    const ok = await api.fetch('/api/messages?limit=1', { token: user.token, headers: { origin: allowed } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('x-request-id');
    const refused = await api.fetch('/api/messages', { headers: { origin: allowed } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(allowed);
  });

  it.each(['http://evil.example', 'http://localhost:8081', 'https://localhost:8080', 'null'])(
    'gives %s no Access-Control-Allow-Origin',
    async (origin) => {
      const preflight = await api.fetch('/api/messages', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
      const get = await api.fetch('/api/messages?limit=1', { token: user.token, headers: { origin } });
      expect(get.headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  it('allows the origins CORS_ALLOWED_ORIGINS names instead of the default', async () => {
    const custom = await startApi({
      CORS_ALLOWED_ORIGINS: 'https://chat.example.com, https://admin.example.com',
      REDIS_PREFIX: api.config.redis.prefix,
    });
    try {
      const preflight = (origin: string) =>
        custom.fetch('/api/rooms', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect((await preflight('https://admin.example.com')).headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
      expect((await preflight(allowed)).headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await custom.close();
    }
  });
});

describe('every protected route', () => {
  const id = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/api/auth/profile'],
    ['POST', '/api/auth/refresh'],
    ['POST', '/api/auth/logout'],
    ['POST', '/api/messages', { content: 'hello' }],
    ['GET', '/api/messages'],
    ['GET', '/api/messages/between/some_user/other_user'],
    ['GET', '/api/users'],
    ['GET', `/api/users/${id}`],
    ['GET', `/api/users/${id}/rooms`],
    ['POST', '/api/rooms', { name: 'room' }],
    ['GET', `/api/rooms/${id}`],
    ['GET', `/api/rooms/${id}/messages`],
    ['POST', `/api/rooms/${id}/members/${id}`],
    ['DELETE', `/api/rooms/${id}/members/${id}`],
    ['GET', '/api/ws/users'],
  ];

  it.each(routes)('%s %s refuses a request without a token with 401', async (method, path, json) => {
    await expectJsonError(await api.fetch(path, { method, json }), 401, { error: 'authentication required', code: 'unauthenticated' });
  });

  it.each(routes)('%s %s refuses a garbage, wrong-scheme or cookie-borne bad token with 401', async (method, path, json) => {
    for (const headers of [{ authorization: 'Bearer not.a.jwt' }, { authorization: `Basic ${user.token}` }, { cookie: 'jwt_token=garbage' }]) {
      await expectJsonError(await api.fetch(path, { method, json, headers }), 401);
    }
  });

  it.each(routes)('%s %s refuses a logged-out token with 401', async (method, path, json) => {
    const gone = await createUser(api);
    expect((await api.fetch('/api/auth/logout', { method: 'POST', token: gone.token })).status).toBe(200);
    await expectJsonError(await api.fetch(path, { method, json, token: gone.token }), 401, { error: 'token revoked', code: 'unauthenticated' });
  });
});

describe('unknown routes', () => {
  it.each([
    ['GET', '/nope'],
    ['GET', '/api'],
    ['GET', '/api/nope'],
    ['GET', '/api/auth/nope'],
    ['POST', '/health'],
    ['GET', '/api/auth/login'],
    ['DELETE', '/api/messages'],
    ['PUT', '/api/rooms'],
    ['GET', '/api/messages/between/only_one'],
  ])('%s %s answers 404 JSON', async (method, path) => {
    await expectJsonError(await api.fetch(path, { method, token: user.token }), 404, { error: 'not found', code: 'not_found' });
  });
});

describe('request bodies', () => {
  const limit = 64 * 1024;

  it.each(['/api/messages', '/api/rooms', '/api/auth/register', '/api/auth/login'])(
    'refuses a body over MAX_BODY_BYTES on %s with 413 JSON',
    async (path) => {
      const res = await api.fetch(path, { method: 'POST', token: user.token, json: { content: 'x'.repeat(limit + 1), name: 'x' } });
      await expectJsonError(res, 413, { error: `request body exceeds ${limit} bytes`, code: 'payload_too_large' });
    },
  );

  it('refuses an oversized body sent without a Content-Length', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await api.fetch('/api/messages', { method: 'POST', token: user.token, body, duplex: 'half' });
    await expectJsonError(res, 413, { error: `request body exceeds ${limit} bytes`, code: 'payload_too_large' });
  });

  it('lets a body just under the limit through to validation', async () => {
    const json = JSON.stringify({ content: 'x'.repeat(limit - 100) });
    expect(Buffer.byteLength(json)).toBeLessThan(limit);
    const res = await api.fetch('/api/messages', { method: 'POST', token: user.token, body: json });
    const body = await expectJsonError(res, 400);
    expect(body).toMatchObject({ error: 'invalid message', code: 'validation_failed' });
  });

  it('honours a configured MAX_BODY_BYTES', async () => {
    const small = await startApi({ MAX_BODY_BYTES: '1024', REDIS_PREFIX: api.config.redis.prefix });
    try {
      const res = await small.fetch('/api/messages', { method: 'POST', token: user.token, json: { content: 'y'.repeat(1100) } });
      await expectJsonError(res, 413, { error: 'request body exceeds 1024 bytes', code: 'payload_too_large' });
      const fits = await small.fetch('/api/messages', { method: 'POST', token: user.token, json: { content: 'y'.repeat(900) } });
      expect(fits.status).toBe(201);
    } finally {
      await small.close();
    }
  });

  it.each([
    ['truncated', '{"content": "x"'],
    ['unquoted keys', '{content: "x"}'],
    ['single quotes', "{'content': 'x'}"],
    ['form encoding', 'content=x'],
    ['trailing garbage', '{"content": "x"} {}'],
    ['a trailing comma', '{"content": "x",}'],
    ['a bare word', 'undefined'],
  ])('refuses %s JSON with 400 on every JSON route', async (_name, body) => {
    for (const path of ['/api/messages', '/api/rooms', '/api/auth/register', '/api/auth/login']) {
      const res = await api.fetch(path, { method: 'POST', token: user.token, body, headers: { 'content-type': 'application/json' } });
      await expectJsonError(res, 400, { error: 'request body is not valid JSON', code: 'validation_failed' });
    }
  });

  it('refuses JSON nested deeper than anything a route accepts with 400, not a crash', async () => {
    const depth = 30_000;
    for (const path of ['/api/messages', '/api/rooms']) {
      const res = await api.fetch(path, { method: 'POST', token: user.token, body: `{"content":${'['.repeat(depth)}${']'.repeat(depth)}}` });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'validation_failed' });
    }
  });

  it('refuses an empty body with 400', async () => {
    for (const body of ['', '   \n']) {
      const res = await api.fetch('/api/rooms', { method: 'POST', token: user.token, body });
      await expectJsonError(res, 400, { error: 'request body must be a JSON object', code: 'validation_failed' });
    }
  });

  it('reads JSON whatever the Content-Type says, as the seed curl examples need', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8']) {
      const res = await api.fetch('/api/rooms', {
        method: 'POST',
        token: user.token,
        body: JSON.stringify({ name: `via ${type}` }),
        headers: { 'content-type': type },
      });
      expect(res.status).toBe(201);
    }
    await createRoom(api, user, 'factory still works');
  });
});

describe('unexpected failures', () => {
  it('answer 500 JSON with the request id, log the error, and leak no detail', async () => {
    const config = testConfig();
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', service: 'api', destination });
    const connections = openConnections(config, logger);
    try {
      const deps = buildAppDeps(config, connections, logger);
      const app = createApp({ ...deps, health: () => Promise.reject(new Error('secret detail at /srv/db.ts:42')) });
      const res = await app.request('/health', { headers: { 'x-request-id': 'boom-1' } });
      const body = await expectJsonError(res, 500, { error: 'internal server error', code: 'internal', request_id: 'boom-1' });
      expect(JSON.stringify(body)).not.toContain('secret');
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 50,
          reqId: 'boom-1',
          msg: 'unhandled error',
          err: expect.objectContaining({ message: 'secret detail at /srv/db.ts:42' }) as unknown,
        }),
      );
      expect(lines).toContainEqual(expect.objectContaining({ reqId: 'boom-1', msg: 'request completed', status: 500 }));
    } finally {
      await closeConnections(connections);
    }
  });
});

describe('graceful shutdown', () => {
  it('keeps serving while it drains, telling clients to drop the connection, then refuses connections', async () => {
    const draining = await startApi();
    const closed = draining.close(1_000);
    const during = await draining.fetch('/health');
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).toBe('close');
    await closed;
    await expect(draining.fetch('/health')).rejects.toThrow();
  });
});
