import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, startApi, type TestApi, type TestUser } from '../harness.ts';
import { expectClientError, expectRefused, forgeToken, rs256Token, tamperedToken, unsignedToken } from './helpers.ts';

// Attack suite, REST: tokens that must not authenticate anyone (docs/security.md).
// Every forged token is tried on a read (profile) and a write (send a message).

let api: TestApi;
let alice: TestUser;
let bob: TestUser;
let secret: string;
beforeAll(async () => {
  api = await startApi();
  await api.resources.redis.ping(); // the rate limiters refuse requests until Redis is ready
  [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
  secret = api.config.jwt.secret;
});
afterAll(async () => api.close());

async function expectTokenRefused(token: string, message?: RegExp) {
  for (const res of [
    await api.fetch('/api/auth/profile', { token }),
    await api.fetch('/api/messages', { method: 'POST', token, json: { content: 'as someone else' } }),
    await api.fetch('/api/auth/profile', { headers: { cookie: `jwt_token=${token}` } }),
  ]) {
    const body = await expectRefused(res, 401, 'unauthenticated');
    if (message) expect(body.error).toMatch(message);
  }
}

describe('attacks on REST authentication', () => {
  const past = () => Math.floor(Date.now() / 1000) - 3600;
  it.each<[string, () => Promise<string> | string, RegExp?]>([
    [
      'a token signed with another secret (forged signature)',
      () => forgeToken(secret, alice, { secret: 'attacker-secret-that-is-also-long-enough' }),
    ],
    ['a real token whose payload names another user (tampered)', () => tamperedToken(alice.token, { sub: bob.id, username: bob.username })],
    ['alg: none (no signature)', () => unsignedToken(alice.token)],
    ['HS512 signed with the real secret (algorithm not pinned)', () => forgeToken(secret, alice, { alg: 'HS512' })],
    ['RS256 signed with an attacker key pair (asymmetric confusion)', () => rs256Token(alice)],
    ['an expired token', () => forgeToken(secret, alice, { claims: { iat: past() - 60, exp: past() } }), /expired/],
    ['a token not yet valid (nbf in the future)', () => forgeToken(secret, alice, { claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } })],
    ['a wrong audience', () => forgeToken(secret, alice, { claims: { aud: 'another-service' } })],
    ['a wrong issuer', () => forgeToken(secret, alice, { claims: { iss: 'someone-else' } })],
    ['a token without jti (unrevocable)', () => forgeToken(secret, alice, { claims: { jti: undefined } })],
    ['a token without sub', () => forgeToken(secret, alice, { claims: { sub: undefined } })],
    ['a token without exp (never expires)', () => forgeToken(secret, alice, { claims: { exp: undefined } })],
    ['a token without username', () => forgeToken(secret, alice, { claims: { username: undefined } })],
    ['garbage in the token slot', () => 'not.a.jwt'],
  ])('refuses %s with 401 on every route and carrier', async (_name, make, message) => {
    await expectTokenRefused(await make(), message);
  });

  it('refuses a token after logout (revoked), on every carrier', async () => {
    const carol = await createUser(api);
    expect((await api.fetch('/api/auth/logout', { method: 'POST', token: carol.token })).status).toBeLessThan(300);
    await expectTokenRefused(carol.token, /revoked/);
  });

  // A validly signed token whose user does not exist (never did, or was deleted
  // since): the API does not look users up on authentication, so each rule must.
  const ghost = () => forgeToken(secret, { id: randomUUID(), username: 'ghost_user' });
  const deleted = async () => {
    const dave = await createUser(api);
    await api.resources.db.deleteFrom('users').where('id', '=', dave.id).execute();
    return dave.token;
  };

  it.each([
    ['an unknown user', ghost],
    ['a deleted user', deleted],
  ])("gives the token of %s no profile and no listing of anyone's data", async (_name, make) => {
    const token = await make();
    await expectClientError(await api.fetch('/api/auth/profile', { token }));
    const feed = await api.fetch('/api/messages', { token });
    if (feed.status === 200)
      expect(((await feed.json()) as { messages: unknown[] }).messages.every((m) => JSON.stringify(m).includes('"recipient":null'))).toBe(true);
    else await expectClientError(feed);
  });

  it.each([
    ['an unknown user', ghost],
    ['a deleted user', deleted],
  ])('refuses writes with the token of %s with a 4xx, never a 5xx', async (_name, make) => {
    const token = await make();
    await expectClientError(await api.fetch('/api/messages', { method: 'POST', token, json: { content: 'boo' } }));
    await expectClientError(await api.fetch('/api/rooms', { method: 'POST', token, json: { name: 'haunted' } }));
  });

  it('refuses a malformed Authorization header instead of falling back to anything', async () => {
    for (const authorization of [`Basic ${alice.token}`, `Bearer ${alice.token} extra`, 'Bearer', `bearer  ${alice.token}x`]) {
      await expectRefused(await api.fetch('/api/auth/profile', { headers: { authorization } }), 401, 'unauthenticated');
    }
  });
});
