import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { clientAddress, type ProxyTrust } from '@chat/shared/limits';
import type { AppEnv } from '../env.ts';

/** The socket's remote address; none when the app is driven without a socket (`app.request` in tests). */
function peerAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/**
 * Sets `clientAddress`: the socket's peer, or what a trusted proxy (TRUSTED_PROXIES)
 * forwarded in X-Forwarded-For / X-Real-IP. The gateway uses the same shared rule.
 */
export function resolveClientAddress(trust: ProxyTrust) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const peer = peerAddress(c);
    c.set('clientAddress', clientAddress(peer, { forwardedFor: c.req.header('x-forwarded-for'), realIp: c.req.header('x-real-ip') }, trust));
    await next();
  });
}
