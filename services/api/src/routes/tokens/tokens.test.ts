import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../../test/harness.ts';

// Access tokens and bots over REST: a token works as a bearer token held to
// its scopes, is shown once and stored hashed, cannot mint tokens, and stops
// at once when deleted. The sockets' side is services/gateway/test/access-tokens.test.ts.

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ TOKEN_CREATE_LIMIT: '6' });
});
afterAll(() => api.close());

interface NewToken {
  id: string;
  token: string;
  scopes: string[];
  user_id: string;
  expires_at: string | null;
}

async function newToken(as: TestUser, json: Record<string, unknown>): Promise<NewToken> {
  const res = await api.fetch('/api/tokens', { method: 'POST', token: as.token, json });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as NewToken;
}

const send = (token: string, json: Record<string, unknown>) => api.fetch('/api/messages', { method: 'POST', token, json });

describe('access tokens', () => {
  it('work as bearer tokens on REST, each held to its scopes', async () => {
    const alice = await createUser(api);
    const reader = await newToken(alice, { name: 'reader', scopes: ['messages:read'] });
    const writer = await newToken(alice, { name: 'writer', scopes: ['messages:write'] });
    expect(reader.token).toMatch(/^chat_pat_[\w-]{43}$/);
    expect(reader).toMatchObject({ user_id: alice.id, scopes: ['messages:read'], expires_at: null });

    expect((await api.fetch('/api/messages', { token: reader.token })).status).toBe(200);
    const refused = await send(reader.token, { content: 'nope' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/messages:write/);

    const sent = await send(writer.token, { content: 'from a script' });
    expect(sent.status).toBe(201);
    expect(((await sent.json()) as { sender: string }).sender).toBe(alice.username);
    expect((await api.fetch('/api/messages', { token: writer.token })).status).toBe(403);
    expect((await api.fetch('/api/rooms', { method: 'POST', token: writer.token, json: { name: 'r' } })).status).toBe(403);
    // The profile says who it is; no session is made of a token.
    expect((await api.fetch('/api/auth/profile', { token: reader.token })).status).toBe(200);
    expect((await api.fetch('/api/auth/refresh', { method: 'POST', token: reader.token })).status).toBe(403);
  });

  it('are stored hashed and listed without secrets', async () => {
    const alice = await createUser(api);
    const made = await newToken(alice, { name: 'ci', scopes: ['messages:read', 'messages:read'], expires_in: 3600 });
    expect(made.scopes).toEqual(['messages:read']);
    expect(Date.parse(made.expires_at ?? '')).toBeGreaterThan(Date.now() + 3500_000);
    const list = (await (await api.fetch('/api/tokens', { token: alice.token })).json()) as { tokens: Array<Record<string, unknown>> };
    expect(list.tokens).toEqual([
      {
        id: made.id,
        name: 'ci',
        user_id: alice.id,
        scopes: ['messages:read'],
        created_at: expect.any(String) as string,
        expires_at: made.expires_at,
      },
    ]);
    const row = await api.resources.db.selectFrom('access_tokens').select('token_hash').where('id', '=', made.id).executeTakeFirstOrThrow();
    expect(row.token_hash.toString('utf8')).not.toContain(made.token.slice(9));
    expect(row.token_hash.length).toBe(32);
  });

  it('stop working at once when deleted; another user cannot delete them', async () => {
    const [alice, mallory] = await Promise.all([createUser(api), createUser(api)]);
    const made = await newToken(alice, { name: 'soon gone', scopes: ['messages:read'] });
    expect((await api.fetch('/api/messages', { token: made.token })).status).toBe(200);
    expect((await api.fetch(`/api/tokens/${made.id}`, { method: 'DELETE', token: mallory.token })).status).toBe(404);
    expect((await api.fetch(`/api/tokens/${made.id}`, { method: 'DELETE', token: alice.token })).status).toBe(204);
    expect((await api.fetch('/api/messages', { token: made.token })).status).toBe(401);
    expect((await api.fetch(`/api/tokens/${made.id}`, { method: 'DELETE', token: alice.token })).status).toBe(404);
  });

  it('cannot manage tokens or bots: no token mints a stronger one', async () => {
    const alice = await createUser(api);
    const all = await newToken(alice, { name: 'all', scopes: ['messages:read', 'messages:write', 'rooms:write'] });
    for (const [method, path, json] of [
      ['POST', '/api/tokens', { name: 'more', scopes: ['rooms:write'] }],
      ['GET', '/api/tokens', undefined],
      ['POST', '/api/bots', { username: `bot_${Date.now() % 100000}` }],
      ['GET', '/api/bots', undefined],
      ['POST', '/api/auth/logout-all', undefined],
    ] as const) {
      expect((await api.fetch(path, { method, token: all.token, ...(json ? { json } : {}) })).status, `${method} ${path}`).toBe(403);
    }
  });

  it('refuse bad requests with 400 and expired tokens with 401', async () => {
    const alice = await createUser(api);
    for (const json of [
      {},
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['admin'] },
      { name: '', scopes: ['messages:read'] },
      { name: 'x', scopes: ['messages:read'], expires_in: 5 },
    ]) {
      expect((await api.fetch('/api/tokens', { method: 'POST', token: alice.token, json })).status, JSON.stringify(json)).toBe(400);
    }
    const made = await newToken(alice, { name: 'short', scopes: ['messages:read'], expires_in: 60 });
    await api.resources.db
      .updateTable('access_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', made.id)
      .execute();
    // Not verified before, so not remembered: refused at once.
    expect((await api.fetch('/api/messages', { token: made.token })).status).toBe(401);
    expect((await api.fetch('/api/messages', { token: 'chat_pat_not-a-real-one' })).status).toBe(401);
  });
});

describe('bots', () => {
  it('are users their owner creates, that sign in with tokens only', async () => {
    const alice = await createUser(api);
    const username = `helper_${Math.random().toString(36).slice(2, 8)}`;
    const res = await api.fetch('/api/bots', { method: 'POST', token: alice.token, json: { username, scopes: ['messages:write'] } });
    expect(res.status).toBe(201);
    const { bot, token } = (await res.json()) as { bot: { id: string; username: string; owner_id: string }; token: NewToken };
    expect(bot).toMatchObject({ username, owner_id: alice.id });
    expect(token).toMatchObject({ user_id: bot.id, scopes: ['messages:write'] });

    const said = await send(token.token, { content: 'beep', recipient: alice.username });
    expect(((await said.json()) as { sender: string }).sender).toBe(username);
    // No password opens it.
    for (const password of ['password123', 'x'.repeat(20)]) {
      expect((await api.fetch('/api/auth/login', { method: 'POST', json: { username, password } })).status).toBe(401);
    }
    // Its owner lists it and makes it more tokens; nobody else can.
    const bots = (await (await api.fetch('/api/bots', { token: alice.token })).json()) as { bots: Array<{ id: string }> };
    expect(bots.bots.map((b) => b.id)).toEqual([bot.id]);
    const second = await newToken(alice, { name: 'second', scopes: ['messages:read'], user_id: bot.id });
    expect(second.user_id).toBe(bot.id);
    const mallory = await createUser(api);
    expect(
      (await api.fetch('/api/tokens', { method: 'POST', token: mallory.token, json: { name: 'steal', scopes: ['messages:read'], user_id: bot.id } }))
        .status,
    ).toBe(404);
    expect((await api.fetch('/api/bots', { method: 'POST', token: alice.token, json: { username } })).status).toBe(409);
    // Alice sees the bot's message like any other.
    const dm = await sendMessage(api, alice, { content: 'hi bot', recipient: username });
    expect(dm.recipient).toBe(username);
  });

  it('and tokens are created within TOKEN_CREATE_LIMIT', async () => {
    const alice = await createUser(api);
    const statuses = [];
    for (let i = 0; i < 8; i++) {
      statuses.push(
        (await api.fetch('/api/tokens', { method: 'POST', token: alice.token, json: { name: `t${i}`, scopes: ['messages:read'] } })).status,
      );
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 201, 429, 429]);
  });
});
