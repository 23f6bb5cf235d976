import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LookupAddress } from 'node:dns';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { schemaDocument } from '@chat/shared/testing';
import { documentedVerifier } from './documented-verifier.ts';
import { startReceiver, startWorker, type Receiver, type TestWorker } from './harness.ts';

// Outgoing webhooks end to end: the API creates them, the real worker delivers
// the log to a receiver on loopback, signed as docs/webhooks.md says.

let api: TestApi;
let worker: TestWorker;
let receiver: Receiver;
let verify: Awaited<ReturnType<typeof documentedVerifier>>;

/** `evil.test` resolves into a private network, as a hostile DNS answer would. */
const lookup = (hostname: string): Promise<LookupAddress[]> =>
  Promise.resolve(hostname === 'evil.test' ? [{ address: '10.9.8.7', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]);

beforeAll(async () => {
  api = await startApi({ WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8' });
  worker = await startWorker({ REDIS_PREFIX: api.config.redis.prefix, WEBHOOK_MAX_FAILURES: '3' }, { lookup });
  receiver = await startReceiver();
  verify = await documentedVerifier();
});
afterAll(async () => {
  await worker.close();
  await receiver.close();
  await api.close();
});

interface Delivery {
  id: string;
  type: string;
  seq: number;
  webhook_id: string;
  conversation: string;
  data: { message: { id: string; content: string; sender: string }; reaction?: { emoji: string; user: string } };
}

async function createWebhook(as: TestUser, json: Record<string, unknown>) {
  const res = await api.fetch('/api/webhooks', { method: 'POST', token: as.token, json });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; secret: string; status: string; user_id: string };
}

/** What `webhookId` received, in arrival order; each body must match the OpenAPI document's `WebhookEvent`. */
const deliveredTo = (webhookId: string) =>
  receiver.received
    .map((r) => JSON.parse(r.text) as Delivery)
    .filter((d) => d.webhook_id === webhookId)
    .map((d) => {
      expect(schemaDocument(api.openapi).problems('/components/schemas/WebhookEvent', d), 'a delivery as the OpenAPI document describes it').toEqual(
        [],
      );
      return d;
    });

async function deliveries(as: TestUser, webhookId: string) {
  const res = await api.fetch(`/api/webhooks/${webhookId}/deliveries`, { token: as.token });
  expect(res.status).toBe(200);
  return (
    (await res.json()) as { deliveries: Array<{ outcome: string; attempt: number; status_code: number | null; error: string | null; event: string }> }
  ).deliveries;
}

describe('webhooks', () => {
  it('deliver each event of a conversation, in log order, signed as documented', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'hooks');
    const hook = await createWebhook(alice, {
      url: `${receiver.url}/in`,
      events: ['message.created', 'message.updated', 'message.deleted', 'reaction.added', 'reaction.removed'],
      conversation: `room:${room.id}`,
    });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const first = await sendMessage(api, alice, { room_id: room.id, content: 'one' });
    const second = await sendMessage(api, alice, { room_id: room.id, content: 'two' });
    // Not this webhook's conversation.
    await sendMessage(api, alice, { recipient: bob.username, content: 'elsewhere' });
    expect((await api.fetch(`/api/messages/${first.id}`, { method: 'PATCH', token: alice.token, json: { content: 'one, edited' } })).status).toBe(
      200,
    );
    expect((await api.fetch(`/api/messages/${second.id}/reactions/${encodeURIComponent('👍')}`, { method: 'PUT', token: alice.token })).status).toBe(
      200,
    );
    expect(
      (await api.fetch(`/api/messages/${second.id}/reactions/${encodeURIComponent('👍')}`, { method: 'DELETE', token: alice.token })).status,
    ).toBe(200);
    expect((await api.fetch(`/api/messages/${second.id}`, { method: 'DELETE', token: alice.token })).status).toBe(200);

    await expect.poll(() => deliveredTo(hook.id).length, { timeout: 10_000 }).toBe(6);
    const got = deliveredTo(hook.id);
    expect(got.map((d) => d.type)).toEqual([
      'message.created',
      'message.created',
      'message.updated',
      'reaction.added',
      'reaction.removed',
      'message.deleted',
    ]);
    expect(got.map((d) => d.seq)).toEqual([...got.map((d) => d.seq)].sort((a, b) => a - b));
    expect(got[0]).toMatchObject({ id: first.id, conversation: `room:${room.id}`, data: { message: { id: first.id, sender: alice.username } } });
    expect(got[3]?.data.reaction).toEqual({ emoji: '👍', user: alice.username });
    // The message as it is when delivered: the deletion already happened.
    expect(got[5]?.data.message.content).toBe('');

    for (const r of receiver.received.filter((x) => (JSON.parse(x.text) as Delivery).webhook_id === hook.id)) {
      const headers = r.headers as Record<string, string>;
      expect(r.headers['content-type']).toBe('application/json');
      expect(headers['webhook-id']).toBe((JSON.parse(r.text) as Delivery).id);
      expect(verify(hook.secret, headers, r.text), 'the documented verification accepts a real delivery').toBe(true);
    }
    expect((await deliveries(alice, hook.id)).map((d) => d.outcome)).toEqual(Array(6).fill('delivered'));
  });

  it('are refused by the documented verification when tampered, replayed late or signed with another secret', async () => {
    const alice = await createUser(api);
    const hook = await createWebhook(alice, { url: receiver.url, events: ['message.created'], conversation: `user:${alice.id}` });
    const other = await createWebhook(alice, { url: receiver.url, events: ['message.created'], conversation: 'global' });
    await sendMessage(api, alice, { recipient: alice.username, content: 'a note to self' });
    await expect.poll(() => deliveredTo(hook.id).length, { timeout: 10_000 }).toBe(1);
    const real = receiver.received.find((r) => (JSON.parse(r.text) as Delivery).webhook_id === hook.id);
    const headers = real?.headers as Record<string, string>;
    const body = real?.text ?? '';
    expect(verify(hook.secret, headers, body)).toBe(true);
    // Tampered: one character of the body, or a signature taken from another event.
    expect(verify(hook.secret, headers, body.replace('a note to self', 'a note to seLf'))).toBe(false);
    expect(verify(hook.secret, { ...headers, 'webhook-id': 'another-event' }, body)).toBe(false);
    // Replayed: the same bytes ten minutes later are outside the tolerance.
    expect(verify(hook.secret, headers, body, 300, Date.now() + 10 * 60_000)).toBe(false);
    // A timestamp moved forward to pass the tolerance breaks the signature.
    expect(
      verify(hook.secret, { ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) + 600) }, body, 300, Date.now() + 600_000),
    ).toBe(false);
    // Another webhook's secret.
    expect(verify(other.secret, headers, body)).toBe(false);
  });

  it('retry a failing receiver with backoff, pause it after WEBHOOK_MAX_FAILURES, and resume in order', async () => {
    const alice = await createUser(api);
    const failing = await startReceiver();
    failing.answer = () => ({ status: 503 });
    try {
      const hook = await createWebhook(alice, { url: failing.url, events: ['message.created'], conversation: `user:${alice.id}` });
      const sent = [];
      sent.push(await sendMessage(api, alice, { recipient: alice.username, content: 'm1' }));
      await expect
        .poll(async () => (await (await api.fetch(`/api/webhooks/${hook.id}`, { token: alice.token })).json()) as { status: string }, {
          timeout: 10_000,
        })
        .toMatchObject({ status: 'paused', failures: 3, last_error: 'answered 503' });
      const attempts = (await deliveries(alice, hook.id)).reverse();
      expect(attempts.map((a) => [a.outcome, a.attempt, a.status_code])).toEqual([
        ['failed', 1, 503],
        ['failed', 2, 503],
        ['failed', 3, 503],
      ]);
      // Paused: nothing more is tried, however long we wait for the worker's next polls.
      sent.push(await sendMessage(api, alice, { recipient: alice.username, content: 'm2' }));
      const triedSoFar = failing.received.length;
      worker.worker.kick();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(failing.received.length).toBe(triedSoFar);

      failing.answer = () => ({ status: 200 });
      const resumed = await api.fetch(`/api/webhooks/${hook.id}/resume`, { method: 'POST', token: alice.token });
      expect(await resumed.json()).toMatchObject({ status: 'active', failures: 0 });
      await expect
        .poll(() => failing.received.filter((r) => r.headers['webhook-id'] !== undefined && (JSON.parse(r.text) as Delivery).type).length, {
          timeout: 10_000,
        })
        .toBe(triedSoFar + 2);
      const ok = failing.received.slice(triedSoFar).map((r) => (JSON.parse(r.text) as Delivery).data.message.content);
      expect(ok).toEqual(['m1', 'm2']);
      // The same event id on every attempt: receivers deduplicate by it.
      expect(new Set(failing.received.slice(0, triedSoFar + 1).map((r) => r.headers['webhook-id']))).toEqual(new Set([sent[0]?.id]));
    } finally {
      await failing.close();
    }
  });

  it('share the work among workers: each event once, in order, with two workers polling', async () => {
    const second = await startWorker({ REDIS_PREFIX: api.config.redis.prefix });
    try {
      const users = await Promise.all([1, 2, 3, 4].map(() => createUser(api)));
      const hooks = await Promise.all(
        users.map((u) => createWebhook(u, { url: receiver.url, events: ['message.created'], conversation: `user:${u.id}` })),
      );
      for (let i = 0; i < 5; i++) {
        await Promise.all(users.map((u) => sendMessage(api, u, { recipient: u.username, content: `note ${i}` })));
      }
      await expect.poll(() => hooks.map((h) => deliveredTo(h.id).length), { timeout: 15_000 }).toEqual([5, 5, 5, 5]);
      for (const h of hooks) expect(deliveredTo(h.id).map((d) => d.data.message.content)).toEqual([0, 1, 2, 3, 4].map((i) => `note ${i}`));
    } finally {
      await second.close();
    }
  });

  it('never reach a private address through DNS or a redirect', async () => {
    const alice = await createUser(api);
    // A receiver that redirects into the metadata service: the attempt fails without a connection there.
    const redirecting = await startReceiver();
    redirecting.answer = () => ({ status: 307, location: 'http://169.254.169.254/latest/meta-data' });
    // A name that resolves into a private network when the worker connects.
    const evilPort = new URL(receiver.url).port;
    try {
      const viaRedirect = await createWebhook(alice, { url: redirecting.url, events: ['message.created'], conversation: `user:${alice.id}` });
      const viaDns = await createWebhook(alice, {
        url: `http://evil.test:${evilPort}/`,
        events: ['message.created'],
        conversation: `user:${alice.id}`,
      });
      await sendMessage(api, alice, { recipient: alice.username, content: 'to nowhere private' });
      await expect
        .poll(async () => (await deliveries(alice, viaRedirect.id))[0]?.error ?? '', { timeout: 10_000 })
        .toMatch(/169\.254\.169\.254.*WEBHOOK_ALLOWED_TARGETS/);
      await expect
        .poll(async () => (await deliveries(alice, viaDns.id))[0]?.error ?? '', { timeout: 10_000 })
        .toMatch(/evil\.test resolves into a private or reserved network \(10\.9\.8\.7\)/);
      expect(deliveredTo(viaDns.id)).toEqual([]);
      const metrics = await worker.metrics.registry.getSingleMetricAsString('chat_webhook_attempts_total');
      expect(metrics).toMatch(/outcome="refused"[^}]*\} [1-9]/);
    } finally {
      await redirecting.close();
    }
  });
});
