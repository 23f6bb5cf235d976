import { CompiledQuery, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testing/database.ts';
import { createDatabase } from '../database.ts';
import type { DB } from '../schema.ts';
import { conversationPageQuery } from './conversations.ts';
import { directPartnersQuery, historyQueries } from './messages.ts';

/**
 * The history reads must stay index-driven whatever the table holds: no plan
 * may read `messages` sequentially, and the rows a read takes from it must be
 * bounded by its page, not by the table or by an audience. Checked with
 * EXPLAIN ANALYZE on exactly the statements the query functions issue, against
 * a database of its own filled with generated rows.
 */

const USERS = 40;
const ROOMS = 30;
const MESSAGES = 40_000;
const LIMIT = 50;

let database: TestDatabase;
let db: Kysely<DB>;

/** Ids by generation index (1-based), as the seed numbered them. */
let users: string[];
let rooms: string[];

beforeAll(async () => {
  database = await createTestDatabase({ adminUrl: inject('adminDatabaseUrl'), prefix: 'chat_plans', migrate: true });
  db = createDatabase({ url: database.url, poolMax: 1 });

  await sql`insert into users (username, email, password_hash)
            select 'user' || lpad(g::text, 3, '0'), 'user' || g || '@example.test', 'unused' from generate_series(1, ${USERS}) g`.execute(db);
  await sql`insert into rooms (name) select 'room' || lpad(g::text, 3, '0') from generate_series(1, ${ROOMS}) g`.execute(db);
  // user001 is in every room; the others in about a quarter of them.
  await sql`insert into room_members (room_id, user_id)
            select r.id, u.id from users u, rooms r
            where u.username = 'user001' or (substr(u.username, 5)::int + substr(r.name, 5)::int) % 4 = 0`.execute(db);
  // 40% global, 30% direct (5% of them to oneself), 30% in rooms; three messages per
  // second, so the (created_at, id) cursor has ties to break.
  await sql`
    with u as (select array_agg(id order by username) as a from users), r as (select array_agg(id order by name) as a from rooms)
    insert into messages (seq, sender_id, recipient_id, room_id, content, created_at)
    select g,
      u.a[1 + (g / 10 * 7 + g * 3) % ${USERS}],
      case when g % 10 between 4 and 6 then u.a[1 + (g / 10 * 13 + g) % ${USERS}] end,
      case when g % 10 >= 7 then r.a[1 + (g / 10 * 11 + g) % ${ROOMS}] end,
      'message ' || g,
      timestamptz '2026-01-01T00:00:00Z' + (g / 3) * interval '1 second'
    from generate_series(1, ${MESSAGES}) g, u, r`.execute(db);
  await sql`update message_log set head = ${MESSAGES}`.execute(db);
  // One long thread: every 50th global message replies to the first one.
  await sql`update messages set reply_to = (select id from messages where seq = 1)
            where seq > 1 and seq % 50 = 1 and recipient_id is null and room_id is null`.execute(db);
  await sql`analyze`.execute(db);

  users = (await db.selectFrom('users').select('id').orderBy('username').execute()).map((row) => row.id);
  rooms = (await db.selectFrom('rooms').select('id').orderBy('name').execute()).map((row) => row.id);
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

function* walk(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* walk(child);
}

/** The plan as indented lines: node type, relation and index, rows and loops. */
function outline(node: PlanNode, depth = 0): string {
  const on = node['Relation Name'] ? ` on ${node['Relation Name']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}` : '';
  const line = `${'  '.repeat(depth)}${node['Node Type']}${on} (rows=${node['Actual Rows']} loops=${node['Actual Loops']})`;
  return [line, ...(node.Plans ?? []).map((child) => outline(child, depth + 1))].join('\n');
}

interface Explained {
  plan: PlanNode;
  ms: number;
  /** Every node that reads `messages`, as "Node Type (index)". */
  scans: string[];
  /** Rows those nodes read from `messages`, kept or filtered out, over all their loops. */
  rowsRead: number;
}

async function explain(query: CompiledQuery): Promise<Explained> {
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
    CompiledQuery.raw(`explain (analyze, format json) ${query.sql}`, [...query.parameters]),
  );
  const [{ Plan: plan, 'Execution Time': ms }] = rows[0]!['QUERY PLAN'];
  const reads = [...walk(plan)].filter((node) => node['Relation Name'] === 'messages');
  return {
    plan,
    ms,
    scans: reads.map((node) => `${node['Node Type']}${node['Index Name'] ? ` (${node['Index Name']})` : ''}`),
    rowsRead: reads.reduce(
      (sum, node) =>
        sum +
        ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
          (node['Actual Loops'] ?? 1),
      0,
    ),
  };
}

/**
 * `messages` only read through its indexes (never a Seq Scan), and no more
 * rows read than `bound`: a few pages' worth, not an audience's.
 */
async function expectIndexDriven(query: CompiledQuery, bound: number) {
  const result = await explain(query);
  const detail = `${result.rowsRead} rows read, ${result.ms} ms\n${outline(result.plan)}\n`;
  expect(result.scans.length, detail).toBeGreaterThan(0);
  for (const scan of result.scans) expect(scan, detail).not.toMatch(/^Seq Scan/);
  expect(result.rowsRead, detail).toBeLessThanOrEqual(bound);
  return result;
}

const page = { limit: LIMIT };
/** A message in the middle of the log, visible to everyone: a cursor deep into the history. */
const middle = async (where: 'global' | 'room') => {
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('seq', '>=', String(MESSAGES / 2))
    .where('recipient_id', 'is', null)
    .where('room_id', where === 'global' ? 'is' : 'is not', null)
    .$if(where === 'room', (q) => q.where('room_id', '=', rooms[0]!))
    .orderBy('seq')
    .limit(1)
    .executeTakeFirstOrThrow();
  return row.id;
};

/**
 * How many direct messages `user` sent or received. The planner may rather
 * fetch and sort those (in a range) than walk them in order: a cost of the
 * user's own, not of the table, that may come on top of a page.
 */
const ownDirect = async (user: string) => {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('recipient_id', 'is not', null)
    .where((eb) => eb.or([eb('sender_id', '=', user), eb('recipient_id', '=', user)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
};

/**
 * What reading the merged audiences may cost with this data's steady traffic:
 * a page from each direct audience (global, sent, received), the rooms'
 * sample (a page, rounded up per room), then a page at most from the rooms
 * up to the bound. (A page from every room would be ROOMS pages: 1,500 rows.)
 */
const mergedBound = async (take: number, user: string) => 5 * take + 2 * ROOMS + (await ownDirect(user));

describe('history reads are index-driven', () => {
  it('GET /api/messages, first page, for a user in every room and for one in a few', async () => {
    await expectIndexDriven(historyQueries.visible(db, users[0]!, page), await mergedBound(LIMIT + 1, users[0]!));
    await expectIndexDriven(historyQueries.visible(db, users[1]!, page), await mergedBound(LIMIT + 1, users[1]!));
  });

  it('GET /api/messages with a cursor deep in the history', async () => {
    const before = await middle('global');
    await expectIndexDriven(historyQueries.visible(db, users[0]!, { ...page, before }), await mergedBound(LIMIT + 1, users[0]!));
    await expectIndexDriven(historyQueries.visible(db, users[1]!, { ...page, before }), await mergedBound(LIMIT + 1, users[1]!));
  });

  it('GET /api/messages/between, first page and with a cursor', async () => {
    const pair = await db
      .selectFrom('messages')
      .select(['sender_id', 'recipient_id'])
      .where('recipient_id', 'is not', null)
      .whereRef('sender_id', '<>', 'recipient_id')
      .orderBy('seq')
      .limit(1)
      .executeTakeFirstOrThrow();
    const [a, b] = [pair.sender_id, pair.recipient_id!];
    await expectIndexDriven(historyQueries.between(db, a, b, a, page), LIMIT + 1);
    const before = (
      await db
        .selectFrom('messages')
        .select('id')
        .where((eb) =>
          eb.or([eb.and([eb('sender_id', '=', a), eb('recipient_id', '=', b)]), eb.and([eb('sender_id', '=', b), eb('recipient_id', '=', a)])]),
        )
        .where('seq', '>=', String(MESSAGES / 2))
        .orderBy('seq')
        .limit(1)
        .executeTakeFirstOrThrow()
    ).id;
    await expectIndexDriven(historyQueries.between(db, a, b, a, { ...page, before }), LIMIT + 2);
  });

  it('thread pages, first and with a cursor deep in the thread', async () => {
    const root = (await db.selectFrom('messages').select('id').where('seq', '=', '1').executeTakeFirstOrThrow()).id;
    const replies = await db.selectFrom('messages').select('id').where('reply_to', '=', root).orderBy('seq').execute();
    expect(replies.length).toBeGreaterThan(LIMIT * 2);
    await expectIndexDriven(historyQueries.replies(db, root, users[0]!, page), LIMIT + 1);
    const before = replies[Math.floor(replies.length / 2)]!.id;
    await expectIndexDriven(historyQueries.replies(db, root, users[0]!, { ...page, before }), LIMIT + 2);
  });

  it('room history, first page and with a cursor', async () => {
    await expectIndexDriven(historyQueries.room(db, rooms[0]!, users[0]!, page), LIMIT + 1);
    await expectIndexDriven(historyQueries.room(db, rooms[0]!, users[0]!, { ...page, before: await middle('room') }), LIMIT + 2);
  });

  it('resume backfill: what a user missed, from far back or recently', async () => {
    for (const after of [0, MESSAGES / 2, MESSAGES - 200]) {
      for (const user of [users[0]!, users[1]!]) {
        await expectIndexDriven(historyQueries.visibleAfter(db, user, after, MESSAGES, LIMIT), await mergedBound(LIMIT, user));
      }
    }
  });

  it('resume backlog count: reads no further than its cap, whatever the range holds', async () => {
    for (const user of [users[0]!, users[1]!]) {
      for (const cap of [LIMIT + 1, 10_001]) {
        for (const after of [0, MESSAGES / 2, MESSAGES - 200]) {
          await expectIndexDriven(historyQueries.countVisibleAfter(db, user, after, MESSAGES, cap), cap + (await ownDirect(user)));
        }
      }
    }
  });
});

describe('the audience of a presence change is index-driven', () => {
  /** The partners as a plain (unindexed) reading of the rule: everyone the user sent a direct message to or got one from, not themselves. */
  const partnersOf = async (user: string) => {
    const { rows } = await sql<{ partner: string }>`
      select distinct case when sender_id = ${user} then recipient_id else sender_id end as partner
      from messages where recipient_id is not null and (sender_id = ${user} or recipient_id = ${user}) and sender_id <> recipient_id`.execute(db);
    return rows.map((row) => row.partner).sort();
  };

  it("lists a user's direct-message partners in one index probe per partner, not one per message", async () => {
    // The seed's users each have a few partners (some on either side of their id) and many more direct messages with them, some to themselves.
    let above = 0;
    let below = 0;
    for (const user of users) {
      const expected = await partnersOf(user);
      const { rows } = await db.executeQuery(directPartnersQuery(db, user));
      expect(rows.map((row) => row.partner).sort()).toEqual(expected);
      above += expected.filter((partner) => partner > user).length;
      below += expected.filter((partner) => partner < user).length;
      // One probe per partner on each side, one that finds nothing at the end of each, and the self-pair.
      await expectIndexDriven(directPartnersQuery(db, user), 2 * expected.length + 4);
    }
    expect({ above: above > USERS, below: below > USERS }).toEqual({ above: true, below: true });
    // Not vacuous: the messages of the pairs far outnumber the probes.
    expect(await ownDirect(users[0]!)).toBeGreaterThan(10 * (await partnersOf(users[0]!)).length);
  });
});

describe("a user's conversation list is index-driven", () => {
  const UNREAD_CAP = 100;

  it('probes each conversation once and counts unread no further than the cap, however long its history', async () => {
    // user001 is in all 30 rooms and has direct partners: every conversation kind, each with a long history.
    const user = users[0]!;
    // Joined and registered before the seed's history: all of it is unread (the count starts there without a read position).
    await sql`update room_members set joined_at = '2025-01-01' where user_id = ${user}`.execute(db);
    await sql`update users set created_at = '2025-01-01' where id = ${user}`.execute(db);
    const { rows: partners } = await db.executeQuery(directPartnersQuery(db, user));
    const { rows: notes } = await sql<{
      n: number;
    }>`select count(*)::int as n from messages where sender_id = ${user} and recipient_id = ${user}`.execute(db);
    const conversations = 1 + ROOMS + partners.length + (notes[0]!.n > 0 ? 1 : 0);
    expect(partners.length).toBeGreaterThan(1);
    for (const limit of [10, 100]) {
      const { rows } = await db.executeQuery(conversationPageQuery(db, user, { limit }, UNREAD_CAP));
      expect(rows.length).toBe(Math.min(limit + 1, conversations));
      // Every unread count of the page is capped, not counted through the history.
      expect(Math.max(...rows.map((r) => r.unread))).toBe(UNREAD_CAP + 1);
      // A probe per conversation (and the partner skip scan), then up to cap + 1 entries per conversation on the
      // page. On a table this small the planner may read a room's few hundred rows after the position by bitmap
      // instead (cheaper here than stopping at the cap; at 1M rows the bench shows what it does), never more.
      const afterPosition = await Promise.all(
        rows.slice(0, limit).map(async (r) => {
          if (r.kind !== 'room') return UNREAD_CAP + 1;
          const { rows: n } = await sql<{ n: number }>`select count(*)::int as n from messages where room_id = ${r.target}`.execute(db);
          // A bitmap's index entries and its heap rows are both counted as read.
          return Math.max(UNREAD_CAP + 1, 2 * n[0]!.n);
        }),
      );
      const bound = 3 * conversations + 4 + UNREAD_CAP + 1 + afterPosition.reduce((a, b) => a + b, 0);
      await expectIndexDriven(conversationPageQuery(db, user, { limit }, UNREAD_CAP), bound);
    }
    // With a cursor: the same probes, the page after it.
    const first = await db.executeQuery(conversationPageQuery(db, user, { limit: 5 }, UNREAD_CAP));
    const last = first.rows[4]!;
    const next = await db.executeQuery(conversationPageQuery(db, user, { limit: 5, before: { at: last.updated_at, id: last.id } }, UNREAD_CAP));
    expect(next.rows[0]!.updated_at.getTime()).toBeLessThanOrEqual(last.updated_at.getTime());
    expect(next.rows.map((r) => r.id)).not.toContain(last.id);
    await expectIndexDriven(
      conversationPageQuery(db, user, { limit: 5, before: { at: last.updated_at, id: last.id } }, UNREAD_CAP),
      3 * conversations + 4 + 6 * 1_000,
    );
  });
});
