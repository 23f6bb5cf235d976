import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, startApi, type TestApi, type TestUser } from '../harness.ts';
import { expectClientError, expectRefused, HOSTILE_CONTENT, LEAK, nestedArrays, nestedObjects } from './helpers.ts';

// Attack suite, REST: hostile bodies, paths and parameters (docs/security.md).
// Each must get a clean 4xx JSON answer (or be stored verbatim and harmlessly),
// never a 5xx, a crash or a stack trace.

let api: TestApi;
let alice: TestUser;
let bob: TestUser;
let room: { id: string };
/** The same cluster with a 4 MiB body limit, so that deep nesting reaches the JSON parser instead of stopping at 413. */
let roomy: TestApi;
beforeAll(async () => {
  api = await startApi();
  roomy = await startApi({ MAX_BODY_BYTES: String(4 * 1024 * 1024), REDIS_PREFIX: api.config.redis.prefix });
  await Promise.all([api.resources.redis.ping(), roomy.resources.redis.ping()]); // the rate limiters refuse requests until Redis is ready
  [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
  room = await createRoom(api, alice, 'inputs');
});
afterAll(async () => {
  await roomy?.close();
  await api?.close();
});

const post = (path: string, body: RequestInit['body'], headers: Record<string, string> = {}) =>
  api.fetch(path, { method: 'POST', token: alice.token, body, headers: { 'content-type': 'application/json', ...headers } });

/**
 * POSTs on a connection of its own (the server answers 413 before reading the
 * whole body and closes it, which would break a pooled fetch connection), as
 * chunks without a Content-Length when given several.
 */
function postAlone(path: string, chunks: Buffer[]): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, {
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${alice.token}`,
        'content-type': 'application/json',
        ...(chunks.length === 1 ? { 'content-length': chunks[0]?.length } : {}),
      },
    });
    req.on('response', (res) => {
      const body: Buffer[] = [];
      res.on('data', (chunk: Buffer) => body.push(chunk));
      res.on('end', () =>
        resolve(new Response(Buffer.concat(body), { status: res.statusCode ?? 0, headers: { 'content-type': String(res.headers['content-type']) } })),
      );
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    const write = (i: number) => {
      if (i >= chunks.length || req.destroyed) return void req.end();
      req.write(chunks[i], () => write(i + 1));
    };
    write(0);
  });
}

/** Proves the API still answers normally after an attack. */
async function stillServing() {
  expect((await api.fetch('/api/auth/profile', { token: alice.token })).status).toBe(200);
}

describe('oversized and malformed bodies', () => {
  it('refuses a body over MAX_BODY_BYTES with 413', async () => {
    const res = await postAlone('/api/messages', [Buffer.from(JSON.stringify({ content: 'x'.repeat(api.config.bodyLimitBytes + 1) }))]);
    await expectRefused(res, 413, 'payload_too_large');
  });

  it('refuses an oversized chunked body (no Content-Length) with 413', async () => {
    const res = await postAlone(
      '/api/messages',
      Array.from({ length: 8 }, () => Buffer.from('x'.repeat(16 * 1024))),
    );
    await expectRefused(res, 413, 'payload_too_large');
    await stillServing();
  });

  it('refuses content over MESSAGE_MAX_LENGTH with 400', async () => {
    const res = await post('/api/messages', JSON.stringify({ content: '😀'.repeat(api.config.chat.maxMessageLength + 1) }));
    await expectRefused(res, 400, 'validation_failed');
  });

  it.each([
    ['100k nested arrays', nestedArrays(100_000)],
    ['100k nested objects', nestedObjects(100_000)],
    ['100k nested arrays as the content', `{"content":${nestedArrays(100_000)}}`],
  ])('refuses %s with a 4xx, not a crash or a 5xx', async (_name, body) => {
    for (const path of ['/api/messages', '/api/rooms', '/api/auth/login']) {
      const res = await roomy.fetch(path, { method: 'POST', token: alice.token, body, headers: { 'content-type': 'application/json' } });
      await expectClientError(res);
    }
    await stillServing();
  });

  it('refuses a body that is not UTF-8 with a 4xx', async () => {
    const bytes = Buffer.concat([Buffer.from('{"content":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    const res = await post('/api/messages', bytes);
    // Either refused, or stored with the invalid bytes replaced: never the raw bytes, never a 5xx.
    if (res.status === 201) expect(((await res.json()) as { content: string }).content).not.toMatch(/[\ud800-\udfff]/);
    else await expectClientError(res);
  });

  it('refuses JSON that is not an object (array, string, number, null) with 400', async () => {
    for (const body of ['[]', '"content"', '42', 'null']) await expectRefused(await post('/api/messages', body), 400, 'validation_failed');
  });
});

describe('prototype pollution', () => {
  it.each([
    ['__proto__', '{"content":"proto","__proto__":{"polluted":true,"isAdmin":true}}'],
    ['constructor.prototype', '{"content":"ctor","constructor":{"prototype":{"polluted":true,"isAdmin":true}}}'],
    ['__proto__ nested in a field', '{"content":{"__proto__":{"polluted":true}}}'],
  ])('ignores or refuses a %s payload and pollutes nothing', async (_name, body) => {
    for (const path of ['/api/messages', '/api/rooms', '/api/auth/register']) {
      const res = await post(path, body);
      expect(res.status, path).toBeLessThan(500);
      const text = await res.text();
      expect(text).not.toMatch(/polluted|isAdmin/);
      expect(text).not.toMatch(LEAK);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    await stillServing();
  });
});

describe('injection', () => {
  it.each(HOSTILE_CONTENT)('stores %j verbatim, as JSON, and reads it back unchanged', async (content) => {
    const res = await post('/api/messages', JSON.stringify({ content, recipient: bob.username }));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { content: string }).content).toBe(content);
    const between = await api.fetch(`/api/messages/between/${alice.username}/${bob.username}`, { token: bob.token });
    expect(((await between.json()) as { messages: Array<{ content: string }> }).messages.map((m) => m.content)).toContain(content);
  });

  it('keeps HTML out of anything a browser would render: JSON with nosniff', async () => {
    const res = await post('/api/rooms', JSON.stringify({ name: '<script>alert(1)</script>', description: '<img src=x onerror=alert(1)>' }));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { name: string };
    expect(body.name).toBe('<script>alert(1)</script>');
  });

  it.each([
    ["' or '1'='1", '/api/rooms/%27%20or%20%271%27%3D%271'],
    ['a UNION in a path id', '/api/rooms/1%20union%20select%20password_hash%20from%20users--/messages'],
    ['a traversal in a path id', '/api/users/..%2F..%2Fetc%2Fpasswd'],
    ['SQL in the between path', "/api/messages/between/x'%20or%201=1--/y"],
    ['SQL in a cursor', "/api/messages?before=1'%20or%20'1'='1"],
    ['a negative limit', '/api/messages?limit=-1'],
    ['a huge limit', '/api/messages?limit=100000000000'],
  ])('answers %s in a path or query with a 4xx', async (_name, path) => {
    const body = await expectClientError(await api.fetch(path, { token: alice.token }));
    expect(JSON.stringify(body)).not.toMatch(/password_hash|@example\.test/);
  });

  it('refuses SQL in the login username like any unknown user (401), not an error', async () => {
    for (const username of ["admin' --", "' or '1'='1", `${alice.username}' --`]) {
      const res = await api.fetch('/api/auth/login', { method: 'POST', json: { username, password: "' or '1'='1" } });
      await expectClientError(res);
      expect(res.status).not.toBe(200);
    }
  });

  it('refuses an Idempotency-Key that is not a key (too long, control characters) with 400', async () => {
    for (const key of ['k'.repeat(129), 'a b', "x' or 1=1"]) {
      const res = await post('/api/messages', JSON.stringify({ content: 'idem' }), { 'idempotency-key': key });
      await expectRefused(res, 400, 'validation_failed');
    }
  });
});

describe('error bodies', () => {
  it('never carry a stack trace, a source path or a database message, whatever went wrong', async () => {
    const attempts: Array<Promise<Response>> = [
      post('/api/messages', '{"content":'),
      post('/api/messages', JSON.stringify({ content: 'x', room_id: 'not-a-uuid' })),
      post('/api/messages', JSON.stringify({ content: 'x', room_id: '00000000-0000-0000-0000-000000000000' })),
      post('/api/messages', JSON.stringify({ content: 'x', recipient: 'nobody_at_all_here' })),
      post('/api/rooms', JSON.stringify({ name: 'x'.repeat(500) })),
      post(`/api/rooms/${room.id}/members/not-a-uuid`, ''),
      api.fetch('/api/users/00000000-0000-0000-0000-000000000000', { token: alice.token }),
      api.fetch('/api/messages/between/a/b', { token: alice.token }),
      api.fetch('/api/auth/profile', { token: 'eyJhbGciOiJIUzI1NiJ9.e30.x' }),
      api.fetch('/api/nope'),
      api.fetch('/api/messages', { method: 'PATCH', token: alice.token }),
      post('/api/auth/register', JSON.stringify({ username: alice.username, email: alice.email, password: 'whatever long enough' })),
    ];
    for (const res of await Promise.all(attempts)) {
      const text = await res.text();
      expect(res.status, text).toBeGreaterThanOrEqual(400);
      expect(res.status, text).toBeLessThan(500);
      expect(text).not.toMatch(LEAK);
    }
  });
});
