import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../../../test/harness.ts';
import { contentSecurityPolicy, pageFiles, WEB_ROOT } from './routes.ts';

/** A request sent as written: fetch would normalise `..` and `%2e` away before the app saw them. */
function raw(
  base: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = request({ hostname, port, path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'inbox.js': 'text/javascript; charset=utf-8',
  'push.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  // A service worker must come as JavaScript, from the origin, at the scope it controls (/).
  'sw.js': 'text/javascript; charset=utf-8',
};

describe('the web page, served by the API from web/', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  it('serves exactly the files of web/', () => {
    expect(pageFiles(WEB_ROOT)).toEqual(Object.keys(TYPES).sort());
  });

  it.each(
    Object.entries({
      '/': 'index.html',
      '/index.html': 'index.html',
      '/app.js': 'app.js',
      '/inbox.js': 'inbox.js',
      '/push.js': 'push.js',
      '/style.css': 'style.css',
      '/sw.js': 'sw.js',
    }),
  )('answers GET %s with web/%s, its content type and the security headers', async (route, file) => {
    const res = await api.fetch(route);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toBe(await readFile(path.join(WEB_ROOT, file), 'utf8'));
    expect(res.headers.get('content-type')).toBe(TYPES[file]);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const host = new URL(api.url).host;
    expect(res.headers.get('content-security-policy')).toBe(
      `default-src 'self'; connect-src 'self' ws://${host} wss://${host}; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'`,
    );
  });

  it('answers HEAD with the headers and the length, without a body', async () => {
    const res = await api.fetch('/', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(TYPES['index.html']);
    expect(res.headers.get('content-length')).toBe(String((await stat(path.join(WEB_ROOT, 'index.html'))).size));
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await res.text()).toBe('');
  });

  it.each(['POST', 'PUT', 'DELETE'])('answers %s / with the JSON 404, not the page', async (method) => {
    const res = await api.fetch('/', { method });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found', code: 'not_found' });
  });

  it.each(['/api/nowhere', '/api/', '/api', '/nowhere.html', '/favicon.ico', '/index.html/', '/web/index.html'])(
    'keeps the JSON 404 for %s',
    async (route) => {
      const res = await api.fetch(route);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: 'not found', code: 'not_found' });
    },
  );

  it('sets the page headers on the page only, not on the API', async () => {
    const res = await api.fetch('/health');
    expect(res.headers.get('content-security-policy')).toBeNull();
  });

  it.each(['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '//etc/passwd', '/..\\package.json'])(
    'reads nothing outside web/ for %s',
    async (target) => {
      const res = await raw(api.url, target);
      // 404 from the app, or 400 from @hono/node-server for a path it will not turn into a URL.
      expect([400, 404]).toContain(res.status);
      expect(res.body).not.toContain('"workspaces"');
      expect(res.body).not.toContain('root:');
    },
  );

  it('never writes a Host header that is not a plain host[:port] into the policy', async () => {
    // @hono/node-server refuses such a Host before the app sees it...
    expect((await raw(api.url, '/', { host: "evil.example; script-src 'unsafe-inline'" })).status).toBe(400);
    // ...and the policy would leave it out anyway.
    for (const host of ["evil.example; script-src 'unsafe-inline'", 'a b', 'a,b', "'self'", 'x/y', '']) {
      expect(contentSecurityPolicy(host)).toBe(contentSecurityPolicy(undefined));
    }
    expect(contentSecurityPolicy(undefined)).toContain("connect-src 'self';");
    for (const host of ['localhost:8080', 'chat.example.com', 'api_1:3000', '127.0.0.1:8080', '[::1]:8080']) {
      expect(contentSecurityPolicy(host)).toContain(`connect-src 'self' ws://${host} wss://${host};`);
    }
  });
});

describe('the page route on a directory of its own', () => {
  let dir: string;
  let api: TestApi;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'page-test-'));
    const root = path.join(dir, 'web');
    await mkdir(path.join(root, 'sub'), { recursive: true });
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(path.join(root, 'app.js'), 'void 0;\n');
    await writeFile(path.join(root, '.env'), 'SECRET=1\n');
    await writeFile(path.join(root, 'sub', 'inner.js'), 'void 1;\n');
    await writeFile(path.join(dir, 'outside.txt'), 'outside\n');
    await symlink(path.join(dir, 'outside.txt'), path.join(root, 'linked.txt'));
    api = await startApi({}, { webRoot: root });
  });
  afterAll(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves its regular files and nothing else: no dotfile, no subdirectory, no symbolic link', async () => {
    expect((await api.fetch('/')).status).toBe(200);
    expect(await (await api.fetch('/app.js')).text()).toBe('void 0;\n');
    for (const route of ['/.env', '/sub/inner.js', '/sub/', '/sub', '/linked.txt', '/outside.txt']) {
      expect((await api.fetch(route)).status, route).toBe(404);
    }
    for (const target of ['/%2eenv', '/sub%2finner.js', '/../outside.txt', '/%2e%2e/outside.txt']) {
      expect((await raw(api.url, target)).status, target).toBe(404);
    }
  });
});
