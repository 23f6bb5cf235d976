import { createECDH, randomBytes, type ECDH } from 'node:crypto';
import { decrypt } from 'http_ece';
import webPush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectWs, startGateway, type TestGateway } from '../../gateway/test/harness.ts';
import { startReceiver, startWorker, type Receiver, type TestWorker } from './harness.ts';

// Web Push end to end: a push endpoint on loopback that decrypts what it
// receives (RFC 8291, with keys only the "browser" holds), the real API,
// gateway (for "is this user connected") and worker.

let api: TestApi;
let gateway: TestGateway;
let worker: TestWorker;
let endpoint: Receiver;
const vapid = webPush.generateVAPIDKeys();

beforeAll(async () => {
  api = await startApi({ VAPID_PUBLIC_KEY: vapid.publicKey, WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8' });
  gateway = await startGateway(api.config.redis.prefix);
  worker = await startWorker({
    REDIS_PREFIX: api.config.redis.prefix,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    PUSH_COALESCE_WINDOW: '1s',
  });
  endpoint = await startReceiver();
  endpoint.answer = (req) => ({ status: req.path.includes('/gone/') ? 410 : 201 });
});
afterAll(async () => {
  await worker.close();
  await endpoint.close();
  await gateway.close();
  await api.close();
});

interface Browser {
  path: string;
  keys: ECDH;
  auth: Buffer;
  subscriptionId: string;
}

/** What a browser's pushManager.subscribe gives, registered for `user`. */
async function subscribe(user: TestUser, kind = 'ok'): Promise<Browser> {
  const keys = createECDH('prime256v1');
  keys.generateKeys();
  const auth = randomBytes(16);
  const path = `/${kind}/${randomBytes(6).toString('hex')}`;
  const res = await api.fetch('/api/push/subscriptions', {
    method: 'POST',
    token: user.token,
    json: { endpoint: endpoint.url + path, keys: { p256dh: keys.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return { path, keys, auth, subscriptionId: ((await res.json()) as { id: string }).id };
}

interface Pushed {
  conversation: string;
  title: string;
  body: string;
  count: number;
}

/** The notifications `browser` received, decrypted with its own keys. */
const pushesTo = (browser: Browser): Pushed[] =>
  endpoint.received
    .filter((r) => r.path === browser.path)
    .map((r) => JSON.parse(decrypt(r.body, { version: 'aes128gcm', privateKey: browser.keys, authSecret: browser.auth }).toString('utf8')) as Pushed);

const settled = async (user: TestUser) => {
  const rows = await api.resources.db.selectFrom('push_notices').select('pending').where('user_id', '=', user.id).execute();
  return rows.length > 0 && rows.every((r) => r.pending === 0);
};

describe('web push', () => {
  it('tells an away user about a direct message, encrypted for their browser and signed with VAPID', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const browser = await subscribe(alice);
    await sendMessage(api, bob, { recipient: alice.username, content: 'are you there?' });
    await expect
      .poll(() => pushesTo(browser), { timeout: 10_000 })
      .toEqual([{ conversation: `user:${bob.id}`, title: bob.username, body: 'are you there?', count: 1, seq: expect.any(Number) as number }]);
    const request = endpoint.received.find((r) => r.path === browser.path);
    expect(request?.headers).toMatchObject({ 'content-encoding': 'aes128gcm', ttl: '86400', urgency: 'normal' });
    expect(request?.headers.topic).toMatch(/^[\w-]{32}$/);
    expect(request?.headers.authorization).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));
    // Only the browser's keys open it: the bytes on the wire are not the text.
    expect(request?.text).not.toContain('are you there?');
  });

  it('coalesces a burst into one follow-up per conversation', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const browser = await subscribe(alice);
    await sendMessage(api, bob, { recipient: alice.username, content: 'first' });
    await expect.poll(() => pushesTo(browser).length, { timeout: 10_000 }).toBe(1);
    for (const text of ['second', 'third', 'fourth']) await sendMessage(api, bob, { recipient: alice.username, content: text });
    await expect.poll(() => pushesTo(browser).length, { timeout: 10_000 }).toBe(2);
    expect(pushesTo(browser)[1]).toMatchObject({ conversation: `user:${bob.id}`, title: bob.username, body: '3 new messages', count: 3 });
    await expect.poll(() => settled(alice), { timeout: 10_000 }).toBe(true);
    expect(pushesTo(browser)).toHaveLength(2);
  });

  it('tells a room member who is mentioned, and no one else', async () => {
    const [alice, carol, dave] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, carol, 'standup');
    expect((await api.fetch(`/api/rooms/${room.id}/members/${alice.id}`, { method: 'POST', token: carol.token })).status).toBe(201);
    const [aliceBrowser, daveBrowser] = [await subscribe(alice), await subscribe(dave)];
    await sendMessage(api, carol, { room_id: room.id, content: 'no mention here' });
    await sendMessage(api, carol, { room_id: room.id, content: `@${dave.username} is not in this room` });
    await sendMessage(api, carol, { room_id: room.id, content: `ping @${alice.username.toUpperCase()}.` });
    await expect
      .poll(() => pushesTo(aliceBrowser), { timeout: 10_000 })
      .toEqual([
        {
          conversation: `room:${room.id}`,
          title: `${carol.username} in standup`,
          body: `ping @${alice.username.toUpperCase()}.`,
          count: 1,
          seq: expect.any(Number) as number,
        },
      ]);
    expect(pushesTo(daveBrowser)).toEqual([]);
  });

  it('sends nothing to someone connected, and removes a subscription the push service says is gone', async () => {
    const [alice, bob, erin] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const browser = await subscribe(alice);
    const client = await connectWs(gateway, alice.token);
    await sendMessage(api, bob, { recipient: alice.username, content: 'you are online' });
    await client.inbox.next((f) => f.type === 'direct_message', 'the message, live');
    await expect.poll(() => settled(alice), { timeout: 10_000 }).toBe(true);
    expect(pushesTo(browser)).toEqual([]);
    client.ws.close();

    const gone = await subscribe(erin, 'gone');
    await sendMessage(api, bob, { recipient: erin.username, content: 'hello?' });
    await expect
      .poll(
        async () =>
          ((await (await api.fetch('/api/push/subscriptions', { token: erin.token })).json()) as { subscriptions: unknown[] }).subscriptions,
        { timeout: 10_000 },
      )
      .toEqual([]);
    expect(endpoint.received.filter((r) => r.path === gone.path)).toHaveLength(1);
    expect(await worker.metrics.registry.getSingleMetricAsString('chat_push_notifications_total')).toMatch(/outcome="expired"[^}]*\} 1/);
  });

  it("removes a subscription whose keys cannot be encrypted for, and still pushes to the user's others", async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const browser = await subscribe(alice);
    // 65 bytes that look like a P-256 point and are not one: past the API's check, refused by the encryption.
    const bogus = await api.resources.db
      .insertInto('push_subscriptions')
      .values({
        user_id: alice.id,
        endpoint: `${endpoint.url}/ok/bogus-${randomBytes(4).toString('hex')}`,
        p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64)]).toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await sendMessage(api, bob, { recipient: alice.username, content: 'one of two' });
    await expect.poll(() => pushesTo(browser).length, { timeout: 10_000 }).toBe(1);
    await expect
      .poll(async () => (await api.resources.db.selectFrom('push_subscriptions').select('id').where('id', '=', bogus.id).execute()).length, {
        timeout: 10_000,
      })
      .toBe(0);
  });
});
