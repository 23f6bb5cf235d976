import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../database.ts';
import { storeMessage } from './messages.ts';
import { deleteMember, insertMember, insertRoom } from './rooms.ts';
import { insertUser } from './users.ts';

const db = createDatabase({ url: inject('databaseUrl'), poolMax: 4 });
afterAll(() => db.destroy());

const createUser = () => {
  const name = `u${randomUUID().slice(0, 8)}`;
  return insertUser(db, { username: name, email: `${name}@example.test`, passwordHash: 'unused' });
};

describe('sending to a room while being removed from it', () => {
  it('makes the removal wait for the send: the membership row stays share-locked until the message commits', async () => {
    const [owner, member] = await Promise.all([createUser(), createUser()]);
    const room = await insertRoom(db, { name: 'race', description: '', createdBy: owner.id });
    expect(await insertMember(db, room.id, member.id)).toBe(true);

    // The send's statement, run in a transaction held open so the test can look in between.
    const send = await db.startTransaction().execute();
    const stored = await storeMessage(
      send,
      { sender_id: member.id, target: { kind: 'room', roomId: room.id }, content: 'hi', client_msg_id: null },
      0,
    );
    expect(stored?.message.room_id).toBe(room.id);
    const removal = deleteMember(db, room.id, member.id);

    // Wait until PostgreSQL reports the DELETE as blocked on that lock.
    let blocked = false;
    for (let probe = 0; probe < 2_000 && !blocked; probe++) {
      const { rows } = await sql<{ waiting: number }>`
        select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query ilike 'delete from "room_members"%'`.execute(db);
      blocked = (rows[0]?.waiting ?? 0) > 0;
    }
    expect(blocked, 'the removal should wait for the sending transaction').toBe(true);
    await send.commit().execute();
    expect(await removal).toBe(true);
  });

  it('stores nothing for a sender who is not a member', async () => {
    const [owner, outsider] = await Promise.all([createUser(), createUser()]);
    const room = await insertRoom(db, { name: 'closed', description: '', createdBy: owner.id });
    expect(
      await storeMessage(db, { sender_id: outsider.id, target: { kind: 'room', roomId: room.id }, content: 'hi', client_msg_id: null }, 1_000),
    ).toBeUndefined();
  });
});
