import { bodyLimit as streamedBodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';

/**
 * Refuses a request body over `maxSize` bytes. A body announced with
 * Content-Length is judged by its header, before a byte of it is read, and a
 * request with neither Content-Length nor Transfer-Encoding has none; only a
 * streamed (chunked) body goes through Hono's bodyLimit, which counts it as it
 * arrives. Hono's asks `c.req.raw.body` first, and on @hono/node-server that
 * turns every POST into a full web Request read through a web stream instead of
 * straight from the socket (node-server's fast path).
 */
export function bodyLimit(opts: { maxSize: number; onError: (c: Context<AppEnv>) => Response | Promise<Response> }) {
  const streamed = streamedBodyLimit(opts);
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    const length = c.req.header('content-length');
    if (length === undefined) return next();
    return Number.parseInt(length, 10) > opts.maxSize ? opts.onError(c) : next();
  });
}
