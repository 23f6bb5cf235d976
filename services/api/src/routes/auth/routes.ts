import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { describeRoute } from 'hono-openapi';
import { type Accounts, AUTH_COOKIE, type Session } from '@chat/shared/auth';
import { toUserView, type UserDirectory } from '@chat/shared/chat';
import { loggedOutSchema, sessionSchema, userSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { body } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';
import { loginBody, registerBody } from './schema.ts';

const tags = ['auth'];
const SETS_COOKIE = 'Also sets the HttpOnly `jwt_token` cookie (SameSite=Lax) holding the same token.';
const CLEARS_COOKIE = 'Also clears the `jwt_token` cookie.';

export function authRoutes(deps: { accounts: Accounts; users: UserDirectory; requireAuth: MiddlewareHandler<AppEnv>; secureCookies: boolean }) {
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

  const clearCookie = (c: Context<AppEnv>) =>
    deleteCookie(c, AUTH_COOKIE, { path: '/', secure: deps.secureCookies, httpOnly: true, sameSite: 'Lax' });

  return (
    new Hono<AppEnv>()
      .post(
        '/register',
        describeRoute({
          tags,
          summary: 'Create an account',
          responses: { 201: json(userSchema, 'The new account'), ...errors(400, ...UNSAFE, 409, 429, ...ALWAYS) },
        }),
        body(registerBody),
        async (c) => {
          const user = await accounts.register(c.req.valid('json'), { address: c.get('clientAddress') });
          return c.json(toUserView(user, { self: true, online: false }), 201);
        },
      )
      .post(
        '/login',
        describeRoute({
          tags,
          summary: 'Log in',
          description: SETS_COOKIE,
          responses: { 200: json(sessionSchema, 'A session'), ...errors(400, 401, ...UNSAFE, 429, ...ALWAYS) },
        }),
        body(loginBody),
        async (c) => sessionResponse(c, await accounts.login(c.req.valid('json'), { address: c.get('clientAddress') })),
      )
      .post(
        '/refresh',
        describeRoute({
          tags,
          summary: 'Trade the current token for a fresh one',
          description: `The old token is revoked; each token refreshes once. ${SETS_COOKIE}`,
          ...AUTHENTICATED,
          responses: { 200: json(sessionSchema, 'A new session'), ...errors(400, 401, ...UNSAFE, ...ALWAYS) },
        }),
        requireAuth,
        async (c) => sessionResponse(c, await accounts.refresh(c.get('claims'))),
      )
      .post(
        '/logout',
        describeRoute({
          tags,
          summary: 'Revoke the current token',
          description: `Its sockets on every gateway close. ${CLEARS_COOKIE}`,
          ...AUTHENTICATED,
          responses: { 200: json(loggedOutSchema, 'Logged out'), ...errors(401, ...UNSAFE, ...ALWAYS) },
        }),
        requireAuth,
        async (c) => {
          await accounts.logout(c.get('claims'));
          clearCookie(c);
          return c.json({ message: 'logged out' });
        },
      )
      // Every token of the caller, on every device, and all their sockets on every gateway.
      .post(
        '/logout-all',
        describeRoute({
          tags,
          summary: "Revoke every one of the caller's tokens",
          description: `On every device; all their sockets on every gateway close. ${CLEARS_COOKIE}`,
          ...AUTHENTICATED,
          responses: { 200: json(loggedOutSchema, 'Logged out everywhere'), ...errors(401, ...UNSAFE, ...ALWAYS) },
        }),
        requireAuth,
        async (c) => {
          await accounts.logoutAll(c.get('claims'));
          clearCookie(c);
          return c.json({ message: 'logged out everywhere' });
        },
      )
      .get(
        '/profile',
        describeRoute({
          tags,
          summary: "The caller's own account",
          ...AUTHENTICATED,
          responses: { 200: json(userSchema, 'The account, with its email'), ...errors(401, ...ALWAYS) },
        }),
        requireAuth,
        async (c) => {
          const claims = c.get('claims');
          return c.json(await users.view(claims, await accounts.profile(claims)));
        },
      )
  );
}
