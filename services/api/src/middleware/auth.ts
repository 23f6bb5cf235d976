import { createMiddleware } from 'hono/factory';
import { pickToken, type Authenticator } from '@chat/shared/auth';
import type { AppEnv } from '../env.ts';

/** Accepts the Bearer header or the jwt_token cookie; sets `claims` for the handlers. */
export function requireAuth(auth: Authenticator) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = pickToken({ authorization: c.req.header('authorization'), cookieHeader: c.req.header('cookie') });
    c.set('claims', await auth.authenticate(token));
    await next();
  });
}
