import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, startApi, type TestApi, type TestUser } from './harness.ts';

// Cross-site request forgery against the cookie session (issue 9): a page on
// another origin can make the browser POST with the jwt_token cookie attached,
// as a "simple" request (text/plain or a form, no preflight). The rule is
// shared/src/auth/csrf.ts; these are the reproduced attacks, end to end.

const EVIL = 'http://localhost:4000';
const ALLOWED = 'http://localhost:8080'; // the test environment's default CORS_ALLOWED_ORIGINS

let api: TestApi;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  api = await startApi();
  alice = await createUser(api);
  bob = await createUser(api);
});

afterAll(async () => {
  await api.close();
});

/** What a forged simple request carries: the cookie, and whatever browser headers the case adds. */
const forged = (user: TestUser, headers: Record<string, string>, body?: string): RequestInit => ({
  method: 'POST',
  headers: { cookie: user.cookie, ...headers },
  body,
});

async function expectRefused(res: Response) {
  expect(res.status).toBe(403);
  const body = (await res.json()) as { error: string; code: string };
  expect(body.code).toBe('forbidden');
  expect(body.error).toMatch(/^cross-site request refused: .*session cookie/);
}

const countMessages = async (user: TestUser) => {
  const res = await api.fetch('/api/messages?limit=100', { token: user.token });
  return ((await res.json()) as { messages: unknown[] }).messages.length;
};

describe('a cookie-authenticated unsafe request from another site', () => {
  it('cannot post a message with a text/plain body (it used to get 201)', async () => {
    const before = await countMessages(alice);
    const res = await api.fetch(
      '/api/messages',
      forged(alice, { origin: EVIL, 'content-type': 'text/plain;charset=UTF-8' }, JSON.stringify({ content: 'forged' })),
    );
    await expectRefused(res);
    expect(await countMessages(alice)).toBe(before);
  });

  it('cannot add a member with a body-less form POST', async () => {
    const room = await createRoom(api, alice);
    const res = await api.fetch(
      `/api/rooms/${room.id}/members/${bob.id}`,
      forged(alice, { origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' }),
    );
    await expectRefused(res);
    // Bob did not become a member: the room stays invisible to him.
    expect((await api.fetch(`/api/rooms/${room.id}`, { token: bob.token })).status).not.toBe(200);
  });

  it('cannot log the user out', async () => {
    const user = await createUser(api);
    await expectRefused(await api.fetch('/api/auth/logout', forged(user, { origin: EVIL })));
    expect((await api.fetch('/api/auth/profile', { headers: { cookie: user.cookie } })).status).toBe(200);
  });

  it.each(['cross-site', 'same-site'])('without an Origin, is refused when Sec-Fetch-Site is %s', async (site) => {
    await expectRefused(
      await api.fetch('/api/messages', forged(alice, { 'sec-fetch-site': site, 'content-type': 'text/plain' }, JSON.stringify({ content: 'x' }))),
    );
  });

  it('is refused for DELETE too, and for an opaque Origin', async () => {
    const room = await createRoom(api, alice);
    await expectRefused(await api.fetch(`/api/rooms/${room.id}/members/${alice.id}`, { ...forged(alice, { origin: EVIL }), method: 'DELETE' }));
    await expectRefused(await api.fetch('/api/messages', forged(alice, { origin: 'null' }, JSON.stringify({ content: 'x' }))));
  });
});

describe('legitimate requests keep working', () => {
  it('from an allowed origin with the cookie', async () => {
    const res = await api.fetch(
      '/api/messages',
      forged(alice, { origin: ALLOWED, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, JSON.stringify({ content: 'mine' })),
    );
    expect(res.status).toBe(201);
  });

  it.each(['same-origin', 'none'])('without an Origin, with Sec-Fetch-Site %s', async (site) => {
    const res = await api.fetch('/api/messages', forged(alice, { 'sec-fetch-site': site }, JSON.stringify({ content: `via ${site}` })));
    expect(res.status).toBe(201);
  });

  it('with the cookie and neither header (curl, k6, the seed scripts)', async () => {
    expect((await api.fetch('/api/messages', forged(alice, {}, JSON.stringify({ content: 'curl' })))).status).toBe(201);
  });

  it('with a Bearer token, whatever the origin (a page cannot set that header for another site)', async () => {
    const res = await api.fetch('/api/messages', {
      method: 'POST',
      token: alice.token,
      headers: { origin: EVIL, 'sec-fetch-site': 'cross-site', cookie: alice.cookie },
      json: { content: 'bearer' },
    });
    expect(res.status).toBe(201);
  });

  it('safe methods and cookie-less requests from anywhere', async () => {
    expect((await api.fetch('/api/auth/profile', { headers: { cookie: alice.cookie, origin: EVIL, 'sec-fetch-site': 'cross-site' } })).status).toBe(
      200,
    );
    // Without any credential the guard has nothing to protect: login answers on its own merits.
    const login = await api.fetch('/api/auth/login', {
      method: 'POST',
      headers: { origin: EVIL },
      json: { username: bob.username, password: bob.password },
    });
    expect(login.status).toBe(200);
  });
});
