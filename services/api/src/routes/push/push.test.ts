import { createECDH, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, startApi, type TestApi } from '../../../test/harness.ts';

// Push subscriptions over REST: who may subscribe what, and where to. What the
// worker pushes is in services/worker/test/push.test.ts.

let api: TestApi;
// A VAPID public key's shape (an uncompressed P-256 point, base64url).
const VAPID_PUBLIC_KEY = createECDH('prime256v1').generateKeys().toString('base64url');
beforeAll(async () => {
  api = await startApi({ VAPID_PUBLIC_KEY, WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8' });
});
afterAll(() => api.close());

/** What a browser's pushManager.subscribe gives. */
const browserKeys = () => ({ p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') });
const endpoint = () => `http://127.0.0.1:9/push/${randomBytes(6).toString('hex')}`;

describe('push subscriptions', () => {
  it('are stored for their owner, listed, updated by the same endpoint again and removed', async () => {
    const alice = await createUser(api);
    expect(await (await api.fetch('/api/push/key', { token: alice.token })).json()).toEqual({ public_key: VAPID_PUBLIC_KEY });
    const url = endpoint();
    const post = () => api.fetch('/api/push/subscriptions', { method: 'POST', token: alice.token, json: { endpoint: url, keys: browserKeys() } });
    const first = (await (await post()).json()) as { id: string };
    const again = (await (await post()).json()) as { id: string };
    expect(again.id).toBe(first.id);
    expect(await (await api.fetch('/api/push/subscriptions', { token: alice.token })).json()).toEqual({
      subscriptions: [{ id: first.id, endpoint: url, created_at: expect.any(String) as string }],
    });
    expect((await api.fetch(`/api/push/subscriptions/${first.id}`, { method: 'DELETE', token: alice.token })).status).toBe(204);
    expect((await api.fetch(`/api/push/subscriptions/${first.id}`, { method: 'DELETE', token: alice.token })).status).toBe(404);
  });

  it('belong to whoever subscribed, from a browser session only', async () => {
    const [alice, mallory] = await Promise.all([createUser(api), createUser(api)]);
    const keys = browserKeys();
    const post = (token: string, json: unknown) => api.fetch('/api/push/subscriptions', { method: 'POST', token, json });
    const url = endpoint();
    const res = await post(alice.token, { endpoint: url, keys });
    expect(res.status).toBe(201);
    const subscription = (await res.json()) as { id: string };
    // For someone else: refused outright, and another account's endpoint is not taken over.
    expect((await post(mallory.token, { endpoint: endpoint(), keys, user_id: alice.id })).status).toBe(403);
    expect((await post(mallory.token, { endpoint: url, keys })).status).toBe(409);
    expect((await api.fetch(`/api/push/subscriptions/${subscription.id}`, { method: 'DELETE', token: mallory.token })).status).toBe(404);
    expect(await (await api.fetch('/api/push/subscriptions', { token: mallory.token })).json()).toEqual({ subscriptions: [] });
    // Not with an access token; not with malformed keys.
    const token = (await (
      await api.fetch('/api/tokens', { method: 'POST', token: alice.token, json: { name: 't', scopes: ['messages:read'] } })
    ).json()) as {
      token: string;
    };
    expect((await post(token.token, { endpoint: endpoint(), keys })).status).toBe(403);
    expect((await post(alice.token, { endpoint: endpoint(), keys: { p256dh: 'short', auth: keys.auth } })).status).toBe(400);
    // The right length of base64url, but not what encryption needs: a compressed point, a secret of 17 bytes.
    const compressed = Buffer.concat([Buffer.from([2]), randomBytes(64)]).toString('base64url');
    expect((await post(alice.token, { endpoint: endpoint(), keys: { p256dh: compressed, auth: keys.auth } })).status).toBe(400);
    expect(
      (await post(alice.token, { endpoint: endpoint(), keys: { p256dh: keys.p256dh, auth: randomBytes(17).toString('base64url') } })).status,
    ).toBe(400);
  });

  it('go to https endpoints outside private networks only, and not at all without VAPID keys', async () => {
    const bare = await startApi({ VAPID_PUBLIC_KEY });
    const off = await startApi();
    try {
      const bob = await createUser(bare);
      const keys = browserKeys();
      for (const url of [
        'http://push.example.com/x',
        'https://127.0.0.1/x',
        'https://169.254.169.254/x',
        'https://[fd00::1]/x',
        'https://localhost/x',
      ]) {
        expect((await bare.fetch('/api/push/subscriptions', { method: 'POST', token: bob.token, json: { endpoint: url, keys } })).status, url).toBe(
          400,
        );
      }
      expect(
        (await bare.fetch('/api/push/subscriptions', { method: 'POST', token: bob.token, json: { endpoint: 'https://push.example.com/x', keys } }))
          .status,
      ).toBe(201);
      const carl = await createUser(off);
      expect((await off.fetch('/api/push/key', { token: carl.token })).status).toBe(404);
      expect(
        (await off.fetch('/api/push/subscriptions', { method: 'POST', token: carl.token, json: { endpoint: 'https://push.example.com/y', keys } }))
          .status,
      ).toBe(404);
    } finally {
      await bare.close();
      await off.close();
    }
  });
});
