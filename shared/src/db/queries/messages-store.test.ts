import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../database.ts';
import { numberPending, storeMessage, type StoredMessage } from './messages.ts';
import { insertUser } from './users.ts';

// store_message: one round trip and, while the log lock is free, one commit
// that stores and numbers the message. Other test files send meanwhile, so
// these check order and presence, never exact seqs.

const db = createDatabase({ url: inject('databaseUrl'), poolMax: 6 });
afterAll(() => db.destroy());

/** The lock every numbering holds through its commit (the delivery-log migration). */
const LOG_LOCK = 7238462001;

const createUser = () => {
  const name = `u${randomUUID().slice(0, 8)}`;
  return insertUser(db, { username: name, email: `${name}@example.test`, passwordHash: 'unused' });
};

const seqOf = async (id: string) => {
  const row = await db.selectFrom('messages').select('seq').where('id', '=', id).executeTakeFirstOrThrow();
  return row.seq === null ? null : Number(row.seq);
};

const global = (senderId: string, content: string) => ({ sender_id: senderId, target: { kind: 'global' } as const, content, client_msg_id: null });

describe('storeMessage', () => {
  it('numbers the message in its own commit when the log is free, after the pending ones committed before it', async () => {
    const alice = await createUser();
    // Committed without a number, as a send does while the log is busy.
    const earlier = await storeMessage(db, global(alice.id, 'earlier'), 0);
    expect(earlier?.pending).toBe(true);
    expect(earlier?.numbered).toEqual([]);

    // Other files' sends hold the lock now and then: a send that found it busy is numbered by a batch, and the next one tries.
    let stored: StoredMessage | undefined;
    for (let attempt = 0; attempt < 50 && !(stored && !stored.pending); attempt++) {
      stored = await storeMessage(db, global(alice.id, `now ${attempt}`), 1_000);
      if (stored?.pending) await numberPending(db, 1_000);
    }
    expect(stored?.pending).toBe(false);
    const ownId = stored?.message.id;
    const own = stored?.numbered.find((logged) => logged.message.id === ownId);
    expect(own?.message).toEqual(stored?.message);
    expect(await seqOf(stored?.message.id ?? '')).toBe(own?.seq);
    // Numbered by this commit or by someone else's before it: lower either way.
    const earlierSeq = await seqOf(earlier?.message.id ?? '');
    expect(earlierSeq).not.toBeNull();
    expect(earlierSeq).toBeLessThan(own?.seq ?? 0);
    // What the commit numbered comes in log order, densely.
    const seqs = stored?.numbered.map((logged) => logged.seq) ?? [];
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
  });

  it('does not wait for a busy log: the message commits unnumbered, and the next batch numbers it', async () => {
    const alice = await createUser();
    const holder = await db.startTransaction().execute();
    let stored;
    try {
      await sql`select pg_advisory_xact_lock(${LOG_LOCK})`.execute(holder);
      stored = await storeMessage(db, global(alice.id, 'while busy'), 1_000);
      // Nobody can number it while the lock is held here.
      expect(await seqOf(stored?.message.id ?? '')).toBeNull();
    } finally {
      await holder.rollback().execute();
    }
    expect(stored?.pending).toBe(true);
    expect(stored?.numbered).toEqual([]);
    const id = stored?.message.id ?? '';

    await numberPending(db, 1_000);
    expect(await seqOf(id)).not.toBeNull();
  });

  it('leaves its own message pending when older pending ones fill the batch', async () => {
    const alice = await createUser();
    const older = await storeMessage(db, global(alice.id, 'older'), 0);
    const stored = await storeMessage(db, global(alice.id, 'capped'), 1);
    // Someone else's batch may have numbered `older` first; then this one had room for its own.
    if (stored?.pending) {
      expect(stored.numbered).toHaveLength(1);
      expect(await seqOf(stored.message.id)).toBeNull();
      await numberPending(db, 1_000);
    }
    expect(await seqOf(older?.message.id ?? '')).toBeLessThan((await seqOf(stored?.message.id ?? '')) ?? 0);
  });

  it('gives concurrent sends distinct, dense numbers whether they numbered themselves or not', async () => {
    const alice = await createUser();
    const sends = await Promise.all(Array.from({ length: 40 }, (_, i) => storeMessage(db, global(alice.id, `burst ${i}`), 1_000)));
    if (sends.some((s) => s?.pending)) await numberPending(db, 1_000);
    const seqs = await Promise.all(sends.map((s) => seqOf(s?.message.id ?? '')));
    expect(seqs.every((seq) => seq !== null)).toBe(true);
    expect(new Set(seqs).size).toBe(sends.length);
    // Every number between the lowest and highest is taken (by these or by other files' sends).
    const lo = Math.min(...(seqs as number[]));
    const hi = Math.max(...(seqs as number[]));
    const { rows } = await sql<{ n: string }>`select count(*) as n from messages where seq between ${lo} and ${hi}`.execute(db);
    expect(Number(rows[0]?.n)).toBe(hi - lo + 1);
  });
});
