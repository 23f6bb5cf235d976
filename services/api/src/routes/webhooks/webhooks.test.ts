import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, startApi, type TestApi } from '../../../test/harness.ts';

// Managing webhooks over REST: who may, for what, where to, how many. What
// the worker delivers, and the attacks on deliveries, are in
// services/worker/test/webhooks.test.ts.

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ WEBHOOK_CREATE_LIMIT: '8', WEBHOOK_MAX_PER_USER: '5' });
});
afterAll(() => api.close());

/** A public address: nothing is sent in these tests (no worker runs). */
const RECEIVER = 'https://hooks.example.com/chat';

async function createWebhook(as: { token: string }, json: Record<string, unknown>) {
  const res = await api.fetch('/api/webhooks', { method: 'POST', token: as.token, json });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; secret: string; status: string; user_id: string };
}

describe('webhooks', () => {
  it('are created with a secret shown once, and listed, read and deleted without it', async () => {
    const alice = await createUser(api);
    const room = await createRoom(api, alice, 'hooked');
    const made = await createWebhook(alice, {
      url: RECEIVER,
      events: ['message.created', 'message.created', 'reaction.added'],
      conversation: `room:${room.id}`,
    });
    expect(made).toMatchObject({
      user_id: alice.id,
      url: RECEIVER,
      events: ['message.created', 'reaction.added'],
      conversation: `room:${room.id}`,
      status: 'active',
      failures: 0,
    });
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const view: Record<string, unknown> = { ...made };
    delete view.secret;
    expect(await (await api.fetch('/api/webhooks', { token: alice.token })).json()).toEqual({ webhooks: [view] });
    expect(await (await api.fetch(`/api/webhooks/${made.id}`, { token: alice.token })).json()).toEqual(view);
    expect(await (await api.fetch(`/api/webhooks/${made.id}/deliveries`, { token: alice.token })).json()).toEqual({
      deliveries: [],
      next_cursor: null,
    });
    expect((await api.fetch(`/api/webhooks/${made.id}`, { method: 'DELETE', token: alice.token })).status).toBe(204);
    expect((await api.fetch(`/api/webhooks/${made.id}`, { token: alice.token })).status).toBe(404);
  });

  it('refuse URLs into private networks, in any spelling, unless WEBHOOK_ALLOWED_TARGETS lists them', async () => {
    const mallory = await createUser(api);
    for (const url of [
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://localhost:3000/',
      'ftp://example.com/',
      'http://user:pass@example.com/',
    ]) {
      const res = await api.fetch('/api/webhooks', { method: 'POST', token: mallory.token, json: { url, events: ['message.created'] } });
      expect(res.status, url).toBe(400);
    }
    const allowed = await startApi({ WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8' });
    try {
      const bob = await createUser(allowed);
      const res = await allowed.fetch('/api/webhooks', {
        method: 'POST',
        token: bob.token,
        json: { url: 'http://127.0.0.1:9/', events: ['message.created'] },
      });
      expect(res.status).toBe(201);
    } finally {
      await allowed.close();
    }
  });

  it('are managed with a session only, by their owner, within limits', async () => {
    const [alice, mallory] = await Promise.all([createUser(api), createUser(api)]);
    const hook = await createWebhook(alice, { url: RECEIVER, events: ['message.created'], conversation: 'global' });
    // Another user's webhook does not exist for them.
    for (const [method, path] of [
      ['GET', `/api/webhooks/${hook.id}`],
      ['DELETE', `/api/webhooks/${hook.id}`],
      ['POST', `/api/webhooks/${hook.id}/resume`],
      ['GET', `/api/webhooks/${hook.id}/deliveries`],
    ] as const) {
      expect((await api.fetch(path, { method, token: mallory.token })).status, `${method} ${path}`).toBe(404);
    }
    expect(((await (await api.fetch('/api/webhooks', { token: mallory.token })).json()) as { webhooks: unknown[] }).webhooks).toEqual([]);
    // No token, whatever its scopes, adds or lists webhooks.
    const token = (await (
      await api.fetch('/api/tokens', {
        method: 'POST',
        token: alice.token,
        json: { name: 't', scopes: ['messages:read', 'messages:write', 'rooms:write'] },
      })
    ).json()) as {
      token: string;
    };
    expect(
      (await api.fetch('/api/webhooks', { method: 'POST', token: token.token, json: { url: RECEIVER, events: ['message.created'] } })).status,
    ).toBe(403);
    expect((await api.fetch('/api/webhooks', { token: token.token })).status).toBe(403);
    // Not for someone else, nor for a room one is not in.
    expect(
      (
        await api.fetch('/api/webhooks', {
          method: 'POST',
          token: mallory.token,
          json: { url: RECEIVER, events: ['message.created'], user_id: alice.id },
        })
      ).status,
    ).toBe(403);
    const room = await createRoom(api, alice, 'private');
    expect(
      (
        await api.fetch('/api/webhooks', {
          method: 'POST',
          token: mallory.token,
          json: { url: RECEIVER, events: ['message.created'], conversation: `room:${room.id}` },
        })
      ).status,
    ).toBe(403);
    const bad = await api.fetch('/api/webhooks', { method: 'POST', token: mallory.token, json: { url: RECEIVER, events: ['message.sent'] } });
    expect(bad.status).toBe(400);

    // WEBHOOK_MAX_PER_USER (5) then WEBHOOK_CREATE_LIMIT (8 per hour).
    const make = () =>
      api.fetch('/api/webhooks', {
        method: 'POST',
        token: mallory.token,
        json: { url: RECEIVER, events: ['message.created'], conversation: 'global' },
      });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await make()).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 409]);
    const mine = ((await (await api.fetch('/api/webhooks', { token: mallory.token })).json()) as { webhooks: Array<{ id: string }> }).webhooks;
    for (const w of mine) expect((await api.fetch(`/api/webhooks/${w.id}`, { method: 'DELETE', token: mallory.token })).status).toBe(204);
    statuses.length = 0;
    for (let i = 0; i < 3; i++) statuses.push((await make()).status);
    expect(statuses).toEqual([201, 201, 429]);
  });
});
