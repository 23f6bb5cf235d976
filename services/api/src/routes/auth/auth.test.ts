import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '@chat/shared/auth';
import { tapEvents } from '../../../test/events.ts';
import { createUser, startApi, uniqueName, type TestApi } from '../../../test/harness.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

const cookieHeader = (res: Response) => res.headers.getSetCookie().find((c) => c.startsWith('jwt_token=')) ?? '';

describe('register', () => {
  it('creates a user and returns it without secrets', async () => {
    const username = uniqueName('Reg');
    const res = await api.fetch('/api/auth/register', {
      method: 'POST',
      json: { username, email: `${username}@example.test`, password: 'password123' },
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ username, email: `${username}@example.test`, is_online: false });
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(body)).not.toContain('password');
  });

  it('refuses a duplicate username or email regardless of case with one and the same 409', async () => {
    const user = await createUser(api);
    const sameName = await api.fetch('/api/auth/register', {
      method: 'POST',
      json: { username: user.username.toUpperCase(), email: `other_${user.email}`, password: 'password123' },
    });
    expect(sameName.status).toBe(409);
    const nameBody = await sameName.json();
    expect(nameBody).toEqual({ error: 'username or email is already registered', code: 'conflict' });
    const sameEmail = await api.fetch('/api/auth/register', {
      method: 'POST',
      json: { username: uniqueName(), email: user.email.toUpperCase(), password: 'password123' },
    });
    expect(sameEmail.status).toBe(409);
    // An e-mail conflict is indistinguishable from a username conflict: same status, same body.
    expect(await sameEmail.json()).toEqual(nameBody);
  });

  it.each([
    ['missing fields', {}],
    ['short password', { username: 'valid_name', email: 'a@example.test', password: 'short' }],
    ['bad email', { username: 'valid_name', email: 'not-an-email', password: 'password123' }],
    ['bad username', { username: 'no spaces allowed', email: 'a@example.test', password: 'password123' }],
    ['wrong types', { username: 42, email: ['x'], password: null }],
    ['array body', [1, 2, 3]],
  ])('refuses %s with 400 and field details', async (_name, body) => {
    const res = await api.fetch('/api/auth/register', { method: 'POST', json: body });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; details: unknown[] };
    expect(json.error).toBe('invalid request body');
    expect(json.details.length).toBeGreaterThan(0);
  });

  it('refuses malformed JSON and an empty body with 400', async () => {
    for (const body of ['{"username": "x",', '', 'null']) {
      const res = await api.fetch('/api/auth/register', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/JSON|invalid/);
    }
  });
});

describe('login', () => {
  it('returns {token, user, expires_at} and sets the jwt_token cookie', async () => {
    const user = await createUser(api);
    const res = await api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; user: { username: string }; expires_at: number };
    expect(body.user.username).toBe(user.username);
    const now = Date.now() / 1000;
    expect(body.expires_at).toBeGreaterThan(now + 23 * 3600);
    expect(body.expires_at).toBeLessThanOrEqual(now + 24 * 3600 + 1);
    const cookie = cookieHeader(res);
    expect(cookie).toContain(`jwt_token=${body.token}`);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/i);
  });

  it('answers unknown user and wrong password identically', async () => {
    const user = await createUser(api);
    const wrong = await api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: 'wrong password' } });
    const unknown = await api.fetch('/api/auth/login', { method: 'POST', json: { username: uniqueName(), password: 'wrong password' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toBe(await unknown.text());
  });

  it('answers a username no one could have registered (NUL, lone surrogate) like an unknown user', async () => {
    const user = await createUser(api);
    for (const username of [`${user.username}\u0000`, '\u0000', `${user.username}\ud800`, 'has space']) {
      const res = await api.fetch('/api/auth/login', { method: 'POST', json: { username, password: user.password } });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'invalid username or password', code: 'unauthenticated' });
    }
  });

  it('accepts the username in any case', async () => {
    const user = await createUser(api);
    const res = await api.fetch('/api/auth/login', {
      method: 'POST',
      json: { username: user.username.toUpperCase(), password: user.password },
    });
    expect(res.status).toBe(200);
  });
});

describe('protected routes', () => {
  it('accept the Bearer header or the cookie, and refuse neither with 401', async () => {
    const user = await createUser(api);
    expect((await api.fetch('/api/auth/profile', { token: user.token })).status).toBe(200);
    expect((await api.fetch('/api/auth/profile', { headers: { cookie: user.cookie } })).status).toBe(200);
    const none = await api.fetch('/api/auth/profile');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('return the caller, with their email, from the profile', async () => {
    const user = await createUser(api);
    const res = await api.fetch('/api/auth/profile', { token: user.token });
    expect(await res.json()).toMatchObject({ id: user.id, username: user.username, email: user.email });
  });
});

describe('token attacks', () => {
  const key = (secret: string) => new TextEncoder().encode(secret);
  const base = (sub: string, username: string) =>
    new SignJWT({ username }).setSubject(sub).setIssuedAt().setJti(crypto.randomUUID()).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE);

  it.each([
    [
      'alg none',
      (u: { id: string; username: string }) =>
        new UnsecuredJWT({ username: u.username })
          .setSubject(u.id)
          .setIssuedAt()
          .setJti('x')
          .setIssuer(TOKEN_ISSUER)
          .setAudience(TOKEN_AUDIENCE)
          .setExpirationTime('1h')
          .encode(),
    ],
    [
      'wrong secret',
      (u: { id: string; username: string }) =>
        base(u.id, u.username).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key('another-secret-of-sufficient-length')),
    ],
    [
      'expired',
      (u: { id: string; username: string }) =>
        base(u.id, u.username)
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(key(api.config.jwt.secret)),
    ],
    [
      'wrong audience',
      (u: { id: string; username: string }) =>
        base(u.id, u.username)
          .setAudience('someone-else')
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(key(api.config.jwt.secret)),
    ],
    [
      'wrong issuer',
      (u: { id: string; username: string }) =>
        base(u.id, u.username).setIssuer('evil').setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key(api.config.jwt.secret)),
    ],
    [
      'HS512 instead of the pinned HS256',
      (u: { id: string; username: string }) =>
        base(u.id, u.username).setProtectedHeader({ alg: 'HS512' }).setExpirationTime('1h').sign(key(api.config.jwt.secret)),
    ],
    [
      'missing jti',
      (u: { id: string; username: string }) =>
        new SignJWT({ username: u.username })
          .setSubject(u.id)
          .setIssuedAt()
          .setIssuer(TOKEN_ISSUER)
          .setAudience(TOKEN_AUDIENCE)
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(key(api.config.jwt.secret)),
    ],
    ['garbage', () => 'not.a.jwt'],
  ])('refuses %s with 401', async (_name, forge) => {
    const user = await createUser(api);
    const res = await api.fetch('/api/auth/profile', { token: await forge(user) });
    expect(res.status).toBe(401);
  });

  it('refuses a token with one flipped signature byte', async () => {
    const user = await createUser(api);
    const [header, payload, signature = ''] = user.token.split('.');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    const res = await api.fetch('/api/auth/profile', { token: `${header}.${payload}.${bytes.toString('base64url')}` });
    expect(res.status).toBe(401);
  });

  it('accepts a correctly forged-with-our-secret token, proving the attacks fail for the right reason', async () => {
    const user = await createUser(api);
    const token = await base(user.id, user.username).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key(api.config.jwt.secret));
    expect((await api.fetch('/api/auth/profile', { token })).status).toBe(200);
  });
});

describe('refresh', () => {
  it('is refused outside the last 15 minutes of the token', async () => {
    const user = await createUser(api);
    const res = await api.fetch('/api/auth/refresh', { method: 'POST', token: user.token });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'refresh_not_allowed' });
    expect((await api.fetch('/api/auth/profile', { token: user.token })).status).toBe(200);
  });

  it('inside the window issues a new token and revokes the old one', async () => {
    // Tokens that live 12 minutes are inside the refresh window from birth.
    const shortLived = await startApi({ JWT_EXPIRY_HOURS: '0.2', REDIS_PREFIX: api.config.redis.prefix });
    try {
      const user = await createUser(shortLived);
      const res = await shortLived.fetch('/api/auth/refresh', { method: 'POST', headers: { cookie: user.cookie } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { token: string; expires_at: number };
      expect(body.token).not.toBe(user.token);
      expect(cookieHeader(res)).toContain(`jwt_token=${body.token}`);
      expect((await shortLived.fetch('/api/auth/profile', { token: body.token })).status).toBe(200);
      expect((await shortLived.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
      // Revocation is in Redis, so the other replica refuses the old token too.
      expect((await api.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
    } finally {
      await shortLived.close();
    }
  });
});

describe('logout', () => {
  it('clears the cookie and revokes the token on every replica', async () => {
    const other = await startApi({ REDIS_PREFIX: api.config.redis.prefix });
    try {
      const user = await createUser(api);
      const res = await api.fetch('/api/auth/logout', { method: 'POST', token: user.token });
      expect(res.status).toBe(200);
      expect(cookieHeader(res)).toMatch(/jwt_token=;.*Max-Age=0/i);
      expect((await api.fetch('/api/auth/profile', { token: user.token })).status).toBe(401);
      const elsewhere = await other.fetch('/api/auth/profile', { token: user.token });
      expect(elsewhere.status).toBe(401);
      expect(await elsewhere.json()).toMatchObject({ error: 'token revoked' });
    } finally {
      await other.close();
    }
  });
});

describe('logout announcement', () => {
  it('publishes token_revoked with the user and the token id, so gateways drop its sockets', async () => {
    const tap = await tapEvents(api);
    try {
      const user = await createUser(api);
      const { jti } = decodeJwt(user.token);
      expect((await api.fetch('/api/auth/logout', { method: 'POST', token: user.token })).status).toBe(200);
      expect(await tap.next('token_revoked', (r) => r.userId === user.id)).toEqual({ userId: user.id, jti });
    } finally {
      await tap.close();
    }
  });
});

describe("the seed README's scenario 1: register, login, profile, refresh, logout", () => {
  it('runs as the curl commands do, with the cookie and no Content-Type', async () => {
    const username = uniqueName('test');
    const register = await api.fetch('/api/auth/register', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'password123' }),
    });
    expect(register.status).toBe(201);
    const login = await api.fetch('/api/auth/login', { method: 'POST', body: JSON.stringify({ username, password: 'password123' }) });
    expect(login.status).toBe(200);
    const cookie = cookieHeader(login).split(';')[0] ?? '';
    const profile = await api.fetch('/api/auth/profile', { headers: { cookie } });
    expect(await profile.json()).toMatchObject({ username });
    expect((await api.fetch('/api/auth/refresh', { method: 'POST', headers: { cookie } })).status).toBe(400);
    expect((await api.fetch('/api/auth/logout', { method: 'POST', headers: { cookie } })).status).toBe(200);
    expect((await api.fetch('/api/auth/profile', { headers: { cookie } })).status).toBe(401);
  });
});
