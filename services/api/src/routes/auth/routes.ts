import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { type Accounts, AUTH_COOKIE, type Session } from '@chat/shared/auth';
import { toUserView, type UserDirectory } from '@chat/shared/chat';
import type { AppEnv } from '../../env.ts';
import { validBody } from '../../middleware/validate.ts';
import { loginBody, registerBody } from './schema.ts';

export function authRoutes(deps: {
  accounts: Accounts;
  users: UserDirectory;
  requireAuth: MiddlewareHandler<AppEnv>;
  secureCookies: boolean;
}) {
  const { accounts, users, requireAuth } = deps;

  const sessionResponse = async (c: Context<AppEnv>, session: Session) => {
    setCookie(c, AUTH_COOKIE, session.token, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
      secure: deps.secureCookies,
      expires: new Date(session.claims.exp * 1000),
    });
    const user = await users.view(session.claims, session.user);
    return c.json({ token: session.token, user, expires_at: session.claims.exp });
  };

  return new Hono<AppEnv>()
    .post('/register', async (c) => {
      const user = await accounts.register(await validBody(c, registerBody), { address: c.get('clientAddress') });
      return c.json(toUserView(user, { self: true, online: false }), 201);
    })
    .post('/login', async (c) =>
      sessionResponse(c, await accounts.login(await validBody(c, loginBody), { address: c.get('clientAddress') })),
    )
    .post('/refresh', requireAuth, async (c) => sessionResponse(c, await accounts.refresh(c.get('claims'))))
    .post('/logout', requireAuth, async (c) => {
      await accounts.logout(c.get('claims'));
      deleteCookie(c, AUTH_COOKIE, { path: '/', secure: deps.secureCookies, httpOnly: true, sameSite: 'Lax' });
      return c.json({ message: 'logged out' });
    })
    // Every token of the caller, on every device, and all their sockets on every gateway.
    .post('/logout-all', requireAuth, async (c) => {
      await accounts.logoutAll(c.get('claims'));
      deleteCookie(c, AUTH_COOKIE, { path: '/', secure: deps.secureCookies, httpOnly: true, sameSite: 'Lax' });
      return c.json({ message: 'logged out everywhere' });
    })
    .get('/profile', requireAuth, async (c) => {
      const claims = c.get('claims');
      return c.json(await users.view(claims, await accounts.profile(claims)));
    });
}
