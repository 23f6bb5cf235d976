import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatMessage } from '../../model/message.ts';
import type { Page, PageResult } from '../../model/page.ts';
import { createTestDatabase, type TestDatabase } from '../../testing/database.ts';
import { createDatabase } from '../database.ts';
import type { DB } from '../schema.ts';
import { countVisibleAfter, listDirectMessages, listRoomMessages, listVisibleMessages, visibleAfter } from './messages.ts';
import { messageFixture } from '../../testing/messages.ts';

/**
 * The history reads against the rule they implement, written the plain way:
 * every stored row, filtered and sorted in memory. Small random data sets,
 * with timestamp ties (the id breaks them), messages to oneself and rooms
 * nobody or everybody is in, read page after page.
 */

let database: TestDatabase;
let db: Kysely<DB>;

beforeAll(async () => {
  // A database of its own: the rule covers every global message, so no other test's rows may be there.
  database = await createTestDatabase({ adminUrl: inject('adminDatabaseUrl'), prefix: 'chat_history', migrate: true });
  db = createDatabase({ url: database.url, poolMax: 2 });
}, 60_000);

afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

const USERS = 4;
const ROOMS = 3;

type Audience = { kind: 'global' } | { kind: 'direct'; to: number } | { kind: 'room'; room: number };

const scenario = fc.record({
  /** membership[user][room] */
  membership: fc.array(fc.array(fc.boolean(), { minLength: ROOMS, maxLength: ROOMS }), { minLength: USERS, maxLength: USERS }),
  messages: fc.array(
    fc.record({
      from: fc.nat({ max: USERS - 1 }),
      to: fc.oneof(
        fc.constant<Audience>({ kind: 'global' }),
        fc.nat({ max: USERS - 1 }).map((to): Audience => ({ kind: 'direct', to })),
        fc.nat({ max: ROOMS - 1 }).map((room): Audience => ({ kind: 'room', room })),
      ),
      /** Seconds: few distinct values, so many ties. */
      at: fc.nat({ max: 6 }),
    }),
    { maxLength: 40 },
  ),
  viewer: fc.nat({ max: USERS - 1 }),
  other: fc.nat({ max: USERS - 1 }),
  limit: fc.integer({ min: 1, max: 7 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

interface Stored {
  id: string;
  seq: number;
  sender: number;
  recipient: number | null;
  room: number | null;
  created_at: Date;
}

interface World {
  users: string[];
  names: string[];
  rooms: string[];
  stored: Stored[];
}

async function store(s: Scenario): Promise<World> {
  await sql`truncate messages, room_members, rooms, users cascade`.execute(db);
  const names = Array.from({ length: USERS }, (_, i) => `user${i}`);
  const users: string[] = [];
  for (const name of names) {
    const row = await db
      .insertInto('users')
      .values({ username: name, email: `${name}@example.test`, password_hash: 'unused' })
      .returning('id')
      .executeTakeFirstOrThrow();
    users.push(row.id);
  }
  const rooms: string[] = [];
  for (let r = 0; r < ROOMS; r++) {
    rooms.push(
      (
        await db
          .insertInto('rooms')
          .values({ name: `room${r}`, description: '', created_by: null })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id,
    );
  }
  const members = s.membership.flatMap((row, u) => row.flatMap((on, r) => (on ? [{ room_id: rooms[r]!, user_id: users[u]! }] : [])));
  if (members.length > 0) await db.insertInto('room_members').values(members).execute();

  const stored: Stored[] = [];
  if (s.messages.length > 0) {
    const { rows } = await sql<{ id: string; seq: string; created_at: Date }>`
      insert into messages (seq, sender_id, recipient_id, room_id, content, created_at)
      select t.seq, t.sender, t.recipient, t.room, 'message ' || t.seq, timestamptz '2026-01-01T00:00:00Z' + t.at * interval '1 second'
      from unnest(${s.messages.map((_, i) => i + 1)}::bigint[], ${s.messages.map((m) => users[m.from])}::uuid[],
                  ${s.messages.map((m) => (m.to.kind === 'direct' ? users[m.to.to] : null))}::uuid[],
                  ${s.messages.map((m) => (m.to.kind === 'room' ? rooms[m.to.room] : null))}::uuid[],
                  ${s.messages.map((m) => m.at)}::int[]) as t(seq, sender, recipient, room, at)
      returning id, seq, created_at`.execute(db);
    for (const row of rows) {
      const m = s.messages[Number(row.seq) - 1]!;
      stored.push({
        id: row.id,
        seq: Number(row.seq),
        sender: m.from,
        recipient: m.to.kind === 'direct' ? m.to.to : null,
        room: m.to.kind === 'room' ? m.to.room : null,
        created_at: row.created_at,
      });
    }
  }
  return { users, names, rooms, stored };
}

const isMember = (s: Scenario, user: number, room: number) => s.membership[user]![room] === true;

/** The rule, as the old single-query listing put it. */
const visibleTo = (s: Scenario, user: number) => (m: Stored) =>
  (m.recipient === null && m.room === null) ||
  (m.sender === user && m.recipient !== null) ||
  m.recipient === user ||
  (m.room !== null && isMember(s, user, m.room));

/** Newest first; ties on created_at broken by the larger id (uuid order is the order of its hex text). */
const newestFirst = (a: Stored, b: Stored) => b.created_at.getTime() - a.created_at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const asChat = (w: World, m: Stored): ChatMessage =>
  messageFixture({
    id: m.id,
    sender: w.names[m.sender]!,
    recipient: m.recipient === null ? null : w.names[m.recipient]!,
    room_id: m.room === null ? null : w.rooms[m.room]!,
    content: `message ${m.seq}`,
    created_at: m.created_at.toISOString(),
  });

/** Follows the cursor to the end, checking every page's shape on the way. */
async function readAll(limit: number, read: (page: Page) => Promise<PageResult<ChatMessage>>): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await read({ limit, ...(before === undefined ? {} : { before }) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    all.push(...page.items);
    if (page.nextCursor === null) return all;
    expect(page.items.length).toBe(limit);
    expect(page.nextCursor).toBe(page.items.at(-1)?.id);
    before = page.nextCursor;
  }
}

const runs = { numRuns: 60 };

describe('history reads match the visibility rule on random data', () => {
  it('GET /api/messages: every visible message once, newest first, across pages', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const w = await store(s);
        const expected = w.stored
          .filter(visibleTo(s, s.viewer))
          .sort(newestFirst)
          .map((m) => asChat(w, m));
        expect(await readAll(s.limit, (page) => listVisibleMessages(db, w.users[s.viewer]!, page))).toEqual(expected);
      }),
      runs,
    );
  });

  it('room history and one conversation (both directions, or with oneself), across pages', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const w = await store(s);
        for (let r = 0; r < ROOMS; r++) {
          // Only a member lists a room (the rule checks that first), and the cursor must be visible to the reader.
          const member = s.membership.findIndex((row) => row[r] === true);
          if (member < 0) continue;
          const expected = w.stored
            .filter((m) => m.room === r)
            .sort(newestFirst)
            .map((m) => asChat(w, m));
          expect(await readAll(s.limit, (page) => listRoomMessages(db, w.rooms[r]!, w.users[member]!, page))).toEqual(expected);
        }
        const [a, b] = [s.viewer, s.other];
        const between = (m: Stored) => m.recipient !== null && ((m.sender === a && m.recipient === b) || (m.sender === b && m.recipient === a));
        const expected = w.stored
          .filter(between)
          .sort(newestFirst)
          .map((m) => asChat(w, m));
        expect(await readAll(s.limit, (page) => listDirectMessages(db, w.users[a]!, w.users[b]!, w.users[a]!, page))).toEqual(expected);
      }),
      runs,
    );
  });

  it('resume backfill: what was missed in (after, upTo], in log order, page by page, and how much', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.nat({ max: 45 }), fc.nat({ max: 45 }), async (s, x, y) => {
        const w = await store(s);
        const [after, upTo] = x <= y ? [x, y] : [y, x];
        const user = w.users[s.viewer]!;
        const expected = w.stored.filter((m) => m.seq > after && m.seq <= upTo && visibleTo(s, s.viewer)(m)).map((m) => m.seq);

        // Paged the way a resuming gateway pages it.
        const seen: number[] = [];
        for (let last = after; last < upTo;) {
          const page = await visibleAfter(db, user, last, upTo, s.limit);
          expect(page.length).toBeLessThanOrEqual(s.limit);
          seen.push(...page.map((m) => m.seq));
          last = page.length < s.limit ? upTo : page.at(-1)!.seq;
        }
        expect(seen).toEqual(expected);

        const first = await visibleAfter(db, user, after, upTo, s.limit);
        expect(first.map((m) => m.message)).toEqual(
          w.stored
            .filter((m) => expected.slice(0, s.limit).includes(m.seq))
            .sort((p, q) => p.seq - q.seq)
            .map((m) => asChat(w, m)),
        );
        expect(await countVisibleAfter(db, user, after, upTo, s.limit)).toBe(Math.min(s.limit, expected.length));
      }),
      runs,
    );
  });
});
