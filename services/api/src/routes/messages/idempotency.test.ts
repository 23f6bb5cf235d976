import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tapEvents, type EventTap } from '../../../test/events.ts';
import { createUser, startApi, type TestApi, type TestUser } from '../../../test/harness.ts';

// A client may retry a send it never saw answered. With the same key from the
// same sender, the retry gets the original message and nothing is stored or
// delivered twice, however late it comes (a unique index, not a time window).

let api: TestApi;
let second: TestApi;
let tap: EventTap;
beforeAll(async () => {
  api = await startApi();
  second = await startApi({ REDIS_PREFIX: api.config.redis.prefix });
  tap = await tapEvents(api);
});
afterAll(async () => {
  await tap.close();
  await second.close();
  await api.close();
});

const post = (target: TestApi, from: TestUser, json: unknown, key?: string) =>
  target.fetch('/api/messages', { method: 'POST', token: from.token, json, headers: key === undefined ? {} : { 'Idempotency-Key': key } });

async function rowsWithKey(senderId: string, key: string): Promise<number> {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from messages where sender_id = $1 and client_msg_id = $2', [
      senderId,
      key,
    ]);
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

describe('Idempotency-Key on POST /api/messages', () => {
  it('answers a retry with the original message (200), on any replica, storing and announcing it once', async () => {
    const alice = await createUser(api);
    const key = `retry-${crypto.randomUUID()}`;
    const first = await post(api, alice, { content: 'once only' }, key);
    expect(first.status).toBe(201);
    const original = (await first.json()) as { id: string };

    const retry = await post(second, alice, { content: 'once only' }, key);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual(original);
    // The key names the send, not the body: a retry whose body changed still gets the original.
    const changed = await post(api, alice, { content: 'edited on retry' }, key);
    expect(changed.status).toBe(200);
    expect(await changed.json()).toEqual(original);

    expect(await rowsWithKey(alice.id, key)).toBe(1);
    const barrier = await post(api, alice, { content: `barrier ${key}` });
    const barrierId = ((await barrier.json()) as { id: string }).id;
    await tap.next('deliver', (d) => d.message.id === barrierId);
    expect(tap.events.filter((e) => e.name === 'deliver' && e.payload.message.id === original.id)).toHaveLength(1);
  });

  it('lets concurrent duplicates race to one row, every one answered with it', async () => {
    const alice = await createUser(api);
    const key = `race-${crypto.randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => post(i % 2 ? api : second, alice, { content: 'racing' }, key)));
    const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ id: string }>));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(answers.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(await rowsWithKey(alice.id, key)).toBe(1);
  });

  it('keeps senders apart: the same key from two users stores two messages', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const key = `shared-${crypto.randomUUID()}`;
    const a = await post(api, alice, { content: 'from alice' }, key);
    const b = await post(api, bob, { content: 'from bob' }, key);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(((await a.json()) as { id: string }).id).not.toBe(((await b.json()) as { id: string }).id);
  });

  it('accepts the key as client_msg_id in the body too, and refuses the two disagreeing', async () => {
    const alice = await createUser(api);
    const key = `body-${crypto.randomUUID()}`;
    const viaBody = await post(api, alice, { content: 'keyed in the body', client_msg_id: key });
    expect(viaBody.status).toBe(201);
    const viaHeader = await post(api, alice, { content: 'keyed in the body' }, key);
    expect(viaHeader.status).toBe(200);
    const clash = await post(api, alice, { content: 'x', client_msg_id: 'one' }, 'two');
    expect(clash.status).toBe(400);
    expect(await clash.json()).toMatchObject({ code: 'validation_failed', details: [{ field: 'client_msg_id' }] });
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(129)],
    ['spaces', 'has spaces'],
    ['non-ASCII', 'clé'],
    ['control characters', 'a\u0001b'],
  ])('refuses a %s key with 400 and stores nothing', async (_what, key) => {
    const alice = await createUser(api);
    const viaBody = await post(api, alice, { content: 'bad key', client_msg_id: key });
    expect(viaBody.status).toBe(400);
    expect(await viaBody.json()).toMatchObject({ code: 'validation_failed' });
    // fetch itself refuses control characters and non-ASCII in a header value.
    if (/^[\x20-\x7e]*$/.test(key)) {
      const viaHeader = await post(api, alice, { content: 'bad key' }, key);
      expect(viaHeader.status).toBe(400);
      expect(await viaHeader.json()).toMatchObject({ code: 'validation_failed' });
    }
  });
});
