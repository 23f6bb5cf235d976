import { randomUUID } from 'node:crypto';
import type { KyselyPlugin } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../db/database.ts';
import { insertMember, insertRoom } from '../db/queries/rooms.ts';
import { insertUser } from '../db/queries/users.ts';
import { rooms } from '../events/rooms.ts';
import { createAudience } from './audience.ts';

const db = createDatabase({ url: inject('databaseUrl'), poolMax: 4 });
afterAll(() => db.destroy());

const createUser = () => {
  const name = `u${randomUUID().slice(0, 8)}`;
  return insertUser(db, { username: name, email: `${name}@example.test`, passwordHash: 'unused' });
};

/** Counts the statements run through it. */
function counting(): { plugin: KyselyPlugin; count: () => number } {
  let n = 0;
  return {
    plugin: {
      transformQuery: (args) => {
        n++;
        return args.node;
      },
      transformResult: (args) => Promise.resolve(args.result),
    },
    count: () => n,
  };
}

describe('the rooms a new connection joins', () => {
  it("reads the rooms of handshakes that ask in the same turn in one query, each user's own", async () => {
    const [alice, bob, carol] = await Promise.all([createUser(), createUser(), createUser()]);
    const [r1, r2] = await Promise.all([
      insertRoom(db, { name: 'one', description: '', createdBy: alice.id }),
      insertRoom(db, { name: 'two', description: '', createdBy: bob.id }),
    ]);
    await Promise.all([insertMember(db, r1.id, alice.id), insertMember(db, r2.id, alice.id), insertMember(db, r2.id, bob.id)]);
    const queries = counting();
    const audience = createAudience({ db: db.withPlugin(queries.plugin) });

    const [a, b, c, again] = await Promise.all([alice, bob, carol, alice].map((u) => audience.roomsFor(u.id)));

    expect(queries.count()).toBe(1);
    expect(new Set(a)).toEqual(new Set([rooms.global, rooms.user(alice.id), rooms.room(r1.id), rooms.room(r2.id)]));
    expect(again).toEqual(a);
    expect(b).toEqual([rooms.global, rooms.user(bob.id), rooms.room(r2.id)]);
    expect(c).toEqual([rooms.global, rooms.user(carol.id)]);
  });

  it('reads afresh for every request: a membership added after one read is in the next', async () => {
    const [alice, owner] = await Promise.all([createUser(), createUser()]);
    const room = await insertRoom(db, { name: 'later', description: '', createdBy: owner.id });
    const audience = createAudience({ db });
    expect(await audience.roomsFor(alice.id)).toEqual([rooms.global, rooms.user(alice.id)]);
    await insertMember(db, room.id, alice.id);
    expect(await audience.roomsFor(alice.id)).toEqual([rooms.global, rooms.user(alice.id), rooms.room(room.id)]);
  });

  it('gives an id that is not a UUID no rooms of its own, without failing the others in its batch', async () => {
    const alice = await createUser();
    const audience = createAudience({ db });
    const [bad, good] = await Promise.all([audience.roomsFor('not-a-uuid'), audience.roomsFor(alice.id)]);
    expect(bad).toEqual([rooms.global, rooms.user('not-a-uuid')]);
    expect(good).toEqual([rooms.global, rooms.user(alice.id)]);
  });
});
