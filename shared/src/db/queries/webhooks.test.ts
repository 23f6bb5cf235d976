import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../database.ts';
import { acknowledge, insertWebhook, leaseDueWebhooks, listDeliveries, recordFailure, release } from './webhooks.ts';
import { insertUser } from './users.ts';

// The lease fences every write a worker makes for a webhook: a worker that
// lost its lease (stalled past WEBHOOK_LEASE while another took over) moves
// no cursor and records no attempt, so "delivered" in the list always means
// acknowledged.

const db = createDatabase({ url: inject('databaseUrl'), poolMax: 4 });
afterAll(() => db.destroy());

async function behindWebhook() {
  const name = `u${randomUUID().slice(0, 8)}`;
  const owner = await insertUser(db, { username: name, email: `${name}@example.test`, passwordHash: 'unused' });
  const hook = await insertWebhook(db, {
    ownerId: owner.id,
    url: 'https://hooks.example.com/',
    events: ['message.created'],
    conversation: null,
    secret: 'whsec_x',
  });
  // Behind the log, so a lease finds it due.
  await db.updateTable('webhooks').set({ cursor: -1 }).where('id', '=', hook.id).execute();
  return hook;
}

/**
 * Leases `id` to `token`. Other test files' webhooks in this shared database
 * may be due too: they are leased with it and handed straight back (their
 * workers see them at their next poll).
 */
async function leaseOnly(id: string, token: string): Promise<void> {
  const leased = await leaseDueWebhooks(db, token, 30_000, 100_000);
  await Promise.all(leased.filter((l) => l.id !== id).map((l) => release(db, l.id, token, l.cursor)));
  if (!leased.some((l) => l.id === id)) throw new Error('the webhook was not due');
}

const attempt = (seq: number) => ({ eventId: randomUUID(), seq, event: 'message.created', attempt: 1, statusCode: 200, error: null, durationMs: 3 });

describe('webhook leases', () => {
  it('let only the holder move the cursor and record attempts', async () => {
    const hook = await behindWebhook();
    const [first, second] = [randomUUID(), randomUUID()];
    await leaseOnly(hook.id, first);
    // The first holder stalls; its lease lapses and another worker takes the webhook.
    await db
      .updateTable('webhooks')
      .set({ lease_until: sql<Date>`now() - interval '1 second'` })
      .where('id', '=', hook.id)
      .execute();
    await leaseOnly(hook.id, second);

    expect(await acknowledge(db, hook.id, first, 30_000, attempt(5))).toBe(false);
    expect(
      await recordFailure(db, hook.id, first, { ...attempt(5), statusCode: 500, error: 'answered 500' }, { retryInMs: 1000, pauseAfter: 3 }),
    ).toBeUndefined();
    expect(await listDeliveries(db, hook.id, 10)).toEqual([]);

    expect(await acknowledge(db, hook.id, second, 30_000, attempt(5))).toBe(true);
    // Never backwards, even for the holder.
    expect(await acknowledge(db, hook.id, second, 30_000, attempt(4))).toBe(false);
    const row = await db.selectFrom('webhooks').select(['cursor', 'lease_token']).where('id', '=', hook.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ cursor: '5', lease_token: second });
    expect((await listDeliveries(db, hook.id, 10)).map((d) => [d.seq, d.outcome])).toEqual([['5', 'delivered']]);

    await release(db, hook.id, first, 99);
    expect((await db.selectFrom('webhooks').select('cursor').where('id', '=', hook.id).executeTakeFirstOrThrow()).cursor).toBe('5');
    await release(db, hook.id, second, 7);
    expect(await db.selectFrom('webhooks').select(['cursor', 'lease_token']).where('id', '=', hook.id).executeTakeFirstOrThrow()).toEqual({
      cursor: '7',
      lease_token: null,
    });
  });
});
