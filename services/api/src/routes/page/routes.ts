import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { describeRoute } from 'hono-openapi';
import type { AppEnv } from '../../env.ts';

const tags = ['page'];

/**
 * The page's directory, found from this file's own place (services/api/src/routes/page/
 * -> <root>/web/): the repository's web/ in a checkout, /app/web in the image
 * (deploy/Dockerfile copies web/ beside services/). Not configurable: it is part
 * of the code, not of the environment.
 */
export const WEB_ROOT = fileURLToPath(new URL('../../../../../web/', import.meta.url));

/**
 * The files the page route serves: the regular files directly in `root` (no
 * directory, no symbolic link), read once when the app is built. A name must not
 * start with a dot and may hold only letters, digits, `_`, `.` and `-`, so a
 * dotfile is never served and no name can be read as route syntax (`:id`, `*`).
 */
export function pageFiles(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isFile() && /^[\w-][\w.-]*$/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
}

/** A Host header that can be named in a CSP source: a host name or IPv4 address, or a bracketed IPv6 one, with an optional port. */
const HOST = /^(?:[\w-]+(?:\.[\w-]+)*|\[[\da-f:.]+\])(?::\d{1,5})?$/i;

/**
 * Scripts, styles and images come only from this origin (the page has no inline
 * code), and it talks only to this origin, over HTTP and WebSocket: `connect-src`
 * names the request's own host for `ws:`/`wss:`, which older browsers do not count
 * as 'self'. A Host header that is not a plain host[:port] is left out rather than
 * written into the policy (@hono/node-server already answers most such with 400).
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host !== undefined && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return `default-src 'self'; connect-src 'self'${sockets}; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'`;
}

/** The page's security headers, on every answer of its routes (nginx adds none: it only passes them on). */
const pageHeaders = createMiddleware<AppEnv>(async (c, next) => {
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  // Behind nginx, Host is the one the browser sent (nginx.conf passes it on unchanged).
  c.header('Content-Security-Policy', contentSecurityPolicy(c.req.header('host')));
  await next();
});

/**
 * The web page: `GET`/`HEAD` of exactly the files in `root` (web/), `/` being
 * `index.html`. Each file is a route of its own whose file name is fixed, so the
 * request path never becomes a file path (no traversal); anything else falls
 * through to the app's JSON 404. @hono/node-server's serveStatic streams the file
 * with its content type, length and Last-Modified, and answers HEAD and ranges.
 */
export function pageRoutes(deps: { root: string }) {
  const app = new Hono<AppEnv>();
  for (const file of pageFiles(deps.root)) {
    const serve = serveStatic<AppEnv>({ root: deps.root, path: file });
    for (const path of file === 'index.html' ? ['/', '/index.html'] : [`/${file}`]) {
      app.get(
        path,
        describeRoute({ tags, summary: `The web page: ${file}`, responses: { 200: { description: `web/${file}` } } }),
        pageHeaders,
        serve,
      );
    }
  }
  return app;
}
