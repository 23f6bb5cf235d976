import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { bodyLimit } from './body-limit.ts';

const LIMIT = 16;

function app() {
  return new Hono()
    .use(bodyLimit({ maxSize: LIMIT, onError: (c) => c.json({ code: 'payload_too_large' }, 413) }))
    .post('/', async (c) => c.text(await c.req.text()))
    .get('/', (c) => c.text('read'));
}

/** A request that records whether anything asked for its body as a web stream. */
function watched(init: RequestInit & { headers?: Record<string, string> }) {
  const seen = { body: false };
  // A proxy, not a patched object: any read of `body` is seen, the rest is the Request's own.
  const req = new Proxy(new Request('http://test.invalid/', init), {
    get(target, key) {
      if (key === 'body') seen.body = true;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { req, seen };
}

describe('bodyLimit', () => {
  it('judges a body with Content-Length by the header, without opening it as a web stream', async () => {
    const { req, seen } = watched({ method: 'POST', body: '{"a":1}', headers: { 'content-length': '7' } });
    const res = await app().fetch(req);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"a":1}');
    expect(seen.body, 'the middleware asked for c.req.raw.body').toBe(false);
  });

  it('refuses a Content-Length over the limit before reading', async () => {
    const { req, seen } = watched({ method: 'POST', body: 'x'.repeat(LIMIT + 1), headers: { 'content-length': String(LIMIT + 1) } });
    const res = await app().fetch(req);
    expect(res.status).toBe(413);
    expect(seen.body).toBe(false);
  });

  it('counts a streamed body as it arrives and refuses it past the limit', async () => {
    const chunks = ['x'.repeat(10), 'x'.repeat(10)];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const req = new Request('http://test.invalid/', { method: 'POST', body, headers: { 'transfer-encoding': 'chunked' }, duplex: 'half' });
    expect((await app().fetch(req)).status).toBe(413);
  });

  it('lets a request with neither header through (it has no body)', async () => {
    expect((await app().fetch(new Request('http://test.invalid/'))).status).toBe(200);
  });
});
