import { createMiddleware } from 'hono/factory';
import { authenticatesByCookie, checkCsrf } from '@chat/shared/auth';
import { forbidden } from '@chat/shared/errors';
import type { AppEnv } from '../env.ts';

/**
 * Refuses a state-changing request that only the ambient `jwt_token` cookie
 * authenticates when it comes from another site (shared/src/auth/csrf.ts has the
 * rule). Runs before authentication, so a forgery costs no token check.
 */
export function csrfGuard(allowedOrigins: readonly string[]) {
  const origins = new Set(allowedOrigins);
  return createMiddleware<AppEnv>(async (c, next) => {
    const verdict = checkCsrf(
      {
        method: c.req.method,
        origin: c.req.header('origin'),
        secFetchSite: c.req.header('sec-fetch-site'),
        cookieAuthenticated: authenticatesByCookie({ authorization: c.req.header('authorization'), cookieHeader: c.req.header('cookie') }),
      },
      origins,
    );
    if (!verdict.allowed) throw forbidden(verdict.reason);
    await next();
  });
}
