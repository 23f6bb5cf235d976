import http from 'node:http';
import pg from 'pg';
import { WebSocket } from 'ws';
import { createCursorCodec } from '@chat/shared/chat';
import { JWT_SECRET } from '../cluster.ts';
import { cpuTable, cpuWindow, type CpuUse } from '../cpu.ts';
import { mdTable, ms, num } from '../format.ts';
import { nowMs, percentiles, sleep, spread, type Percentiles } from '../stats.ts';
import type { BenchContext, Row, SectionResult } from '../types.ts';
import { createUsers, loopback, type BenchUser } from '../users.ts';

// `history`: history reads against a table of a million messages. The section
// seeds the bench database once (global, direct and room messages mixed, seq
// numbered densely after the log's head), then, per round, 50 closed-loop
// readers page through GET /api/messages, /api/messages/between, room
// history and thread replies through nginx, and a few plain-WS clients resume with cursors near
// and far back. No bare baseline: the target is absolute (p99 <= 20 ms).
//
// The statements themselves are not EXPLAINed here: `historyQueries` is not
// exported by any public entry point of @chat/shared, and scripts may not reach
// into shared/src. messages-plans.test.ts EXPLAINs them; this section instead
// reads PostgreSQL's own counters for `messages` (sequential scans, and which
// indexes were read how much) over the measured reads.

const TARGET_P99_MS = 20;
/** The lock `sequence_messages()` numbers under (the delivery-log migration); the seed takes it too. */
const NUMBERING_LOCK = 7238462001;
/** In rooms, one message in THREAD_ROOT_PER_MILLE thousand starts a thread, and THREAD_REPLY_PERCENT % of the rest reply to the room's latest one. */
const THREAD_ROOT_PER_MILLE = 5;
const THREAD_REPLY_PERCENT = 20;
/** Resume "near": this many log positions back (about 40% of them visible to a reader: one replay page). */
const NEAR_BACK = 100;
/** Sampled messages that serve as deep `before` cursors. */
const CURSOR_SAMPLE = 20_000;
/** PostgreSQL 15 backends flush table statistics at most once a second, and an idle one within 10 s. */
const STATS_FLUSH_MS = 11_000;

const READ_KINDS = [
  'visible',
  'visible, before',
  'between',
  'between, before',
  'room',
  'room, before',
  'thread',
  'thread, before',
  'conversations',
  'conversations, before',
] as const;
type ReadKind = (typeof READ_KINDS)[number];
const RESUME_KINDS = ['resume, near', 'resume, far back'] as const;
type ResumeKind = (typeof RESUME_KINDS)[number];
type Kind = ReadKind | ResumeKind;

const LABEL: Record<Kind, string> = {
  visible: 'GET /api/messages',
  'visible, before': 'GET /api/messages?before=',
  between: 'GET /api/messages/between/:me/:other',
  'between, before': 'GET /api/messages/between/:me/:other?before=',
  room: 'GET /api/rooms/:id/messages',
  'room, before': 'GET /api/rooms/:id/messages?before=',
  thread: 'GET /api/messages/:id/replies',
  'thread, before': 'GET /api/messages/:id/replies?before=',
  conversations: 'GET /api/conversations (1,000 conversations)',
  'conversations, before': 'GET /api/conversations?before= (1,000 conversations)',
  'resume, near': `plain WS ?since= ${NEAR_BACK} positions back (resumed)`,
  'resume, far back': 'plain WS ?since= before the seed (reload)',
};

// ---------------------------------------------------------------- the seed

interface Reader {
  user: BenchUser;
  /** The user whose inbox this reader lists (GET /api/conversations): one of the seed's inbox users. */
  inbox: BenchUser;
  rooms: string[];
  /** Users this one has conversations with, itself included (its self-DMs). */
  partners: string[];
}

interface Seeded {
  /** The log head before the seed: seeded messages are firstSeq..lastSeq. */
  headBefore: number;
  lastSeq: number;
  counts: { global: number; direct: number; self: number; room: number; roots: number; replies: number; longestThread: number; inbox: number };
  /** Conversations of each inbox user: global, their rooms and their direct partners. */
  inboxConversations: number;
  users: number;
  rooms: number;
  memberships: number;
  insertMs: number;
  vacuumMs: number;
  tableBytes: number;
  totalBytes: number;
  readers: Reader[];
  roomIds: string[];
  /** Deep `before` cursors: seeded message ids by listing (`thread`: replies by root). */
  deep: { global: string[]; room: Map<string, string[]>; pair: Map<string, string[]>; thread: Map<string, string[]> };
  /** Thread roots by room. */
  roots: Map<string, string[]>;
}

const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
/** Rooms of user `i`: `perUser` distinct rooms spread over all of them. */
const roomsOf = (i: number, rooms: number, perUser: number) =>
  Array.from({ length: perUser }, (_, k) => (i * 7 + k * Math.floor(rooms / perUser)) % rooms);
/** Direct messages go mostly to the next FRIENDS users (in either direction), some to anyone, some to oneself. */
const FRIENDS = 4;

async function seed(ctx: BenchContext): Promise<Seeded> {
  const o = ctx.opts.history;
  const users = await createUsers(ctx.db.database.url, o.users, 'hst');
  const inboxUsers = await createUsers(ctx.db.database.url, o.inboxUsers, 'hsi');
  const partners = await createUsers(ctx.db.database.url, o.inboxPartners, 'hsp');
  const client = new pg.Client({ connectionString: ctx.db.database.url });
  await client.connect();
  try {
    const { rows: roomRows } = await client.query<{ id: string }>(
      `insert into rooms (name, description) select 'history ' || g, 'bench' from generate_series(1, $1::int) g returning id`,
      [o.rooms],
    );
    const roomIds = roomRows.map((r) => r.id);
    const memberUser: string[] = [];
    const memberRoom: string[] = [];
    users.forEach((u, i) => {
      for (const r of roomsOf(i, o.rooms, o.roomsPerUser)) {
        memberUser.push(u.id);
        memberRoom.push(roomIds[r] as string);
      }
    });
    await client.query(`insert into room_members (room_id, user_id) select * from unnest($1::uuid[], $2::uuid[])`, [memberRoom, memberUser]);
    // The inbox users are in inboxRooms of the rooms (not among the senders: their rooms' traffic is the others').
    await client.query(`insert into room_members (room_id, user_id) select r, u from unnest($1::uuid[]) u, unnest($2::uuid[]) r`, [
      inboxUsers.map((u) => u.id),
      roomIds.slice(0, o.inboxRooms),
    ]);

    // One statement, under the numbering lock so nothing is numbered meanwhile:
    // seq = head + g (dense, in created_at order), then the head moves past them.
    // Three messages a second, so the (created_at, id) cursor has ties to break;
    // the last ones a minute ago. 40% global, 30% direct (5% of those to oneself),
    // 30% in rooms, each sent by a member.
    const t0 = nowMs();
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [NUMBERING_LOCK]);
    const { rows: headRows } = await client.query<{ head: string }>('select head from message_log for update');
    const headBefore = Number(headRows[0]?.head ?? 0);
    const ids = users.map((u) => u.id);
    await client.query(
      `with p as (select $1::uuid[] as u, cardinality($1::uuid[]) as nu, $2::uuid[] as mu, $3::uuid[] as mr, cardinality($2::uuid[]) as nm)
       insert into messages (seq, sender_id, recipient_id, room_id, content, created_at)
       select $4::bigint + g,
         case when x.kind < 40 then p.u[1 + x.a] when x.kind < 70 then p.u[1 + case when x.flip then x.b else x.a end] else p.mu[1 + x.m] end,
         case when x.kind >= 40 and x.kind < 70 then p.u[1 + case when x.flip then x.a else x.b end] end,
         case when x.kind >= 70 then p.mr[1 + x.m] end,
         'history ' || g || ' ' || repeat('lorem ipsum ', 1 + x.len),
         now() - make_interval(secs => $5::int / 3 + 60) + ((g - 1) / 3) * interval '1 second'
       from p, generate_series(1, $5::bigint) g
       cross join lateral (
         select h.kind, h.a, h.flip, h.m, h.len,
           case when h.d < 5 then h.a when h.d < 85 then (h.a + 1 + h.e % ${FRIENDS}) % p.nu else h.e % p.nu end as b
         from (select
           ((hashint8extended(g, 1) & 9223372036854775807) % 100)::int as kind,
           ((hashint8extended(g, 2) & 9223372036854775807) % p.nu)::int as a,
           ((hashint8extended(g, 3) & 9223372036854775807) % 100)::int as d,
           ((hashint8extended(g, 4) & 9223372036854775807) % 1000000)::int as e,
           (hashint8extended(g, 5) & 1) = 1 as flip,
           ((hashint8extended(g, 6) & 9223372036854775807) % p.nm)::int as m,
           ((hashint8extended(g, 7) & 9223372036854775807) % 12)::int as len) h
       ) x`,
      [ids, memberUser, memberRoom, headBefore, o.messages],
    );
    // Each inbox user's direct conversations: three messages with each partner, both ways, spread over the seed's time.
    const { rowCount: inboxCount } = await client.query(
      `insert into messages (seq, sender_id, recipient_id, content, created_at)
       select $3::bigint + row_number() over (order by t, u, p), case when k = 1 then p else u end, case when k = 1 then u else p end,
         'inbox ' || k, t
       from (select u, p, k, now() - make_interval(secs => $4::int / 3 + 60) + ((hashint8extended(k, hashtext(u::text || p::text)) & 1048575) % ($4::int / 3)) * interval '1 second' as t
             from unnest($1::uuid[]) u, unnest($2::uuid[]) p, generate_series(1, 3) k) x`,
      [inboxUsers.map((u) => u.id), partners.map((u) => u.id), headBefore + o.messages, o.messages],
    );
    const inboxMessages = inboxCount ?? 0;
    await client.query('update message_log set head = $1', [headBefore + o.messages + inboxMessages]);
    // Threads in rooms, as store_message would have left them: a reply names
    // its root (the room's latest root before it), the root counts them.
    await client.query(
      `with r as (
         select id, seq, room_id, created_at,
           (hashint8extended(seq, 8) & 9223372036854775807) % 1000 < ${THREAD_ROOT_PER_MILLE} as is_root,
           (hashint8extended(seq, 9) & 9223372036854775807) % 100 < ${THREAD_REPLY_PERCENT} as is_reply
         from messages where seq > $1 and room_id is not null
       ), t as (
         select id, is_root, is_reply, max(case when is_root then seq end) over (partition by room_id order by seq) as root_seq from r
       )
       update messages m set reply_to = root.id
       from t join messages root on root.seq = t.root_seq
       where m.id = t.id and t.is_reply and not t.is_root and t.root_seq is not null`,
      [headBefore],
    );
    await client.query(
      `update messages root set reply_count = c.n, last_reply_at = c.last
       from (select reply_to, count(*)::int as n, max(created_at) as last from messages where seq > $1 and reply_to is not null group by reply_to) c
       where root.id = c.reply_to`,
      [headBefore],
    );
    await client.query('commit');
    const insertMs = nowMs() - t0;
    ctx.say(`history: seeded ${num(o.messages)} messages in ${(insertMs / 1000).toFixed(1)} s; vacuum analyze...`);

    // Analyzed for the planner, and vacuumed so autovacuum does not start on the
    // fresh rows in the middle of a measurement (and the visibility map is set).
    const t1 = nowMs();
    await client.query('vacuum (analyze) messages');
    await client.query('analyze users, rooms, room_members');
    const vacuumMs = nowMs() - t1;

    const { rows: countRows } = await client.query<{
      global: number;
      direct: number;
      self: number;
      room: number;
      roots: number;
      replies: number;
      longest: number;
      inbox: number;
      table: string;
      total: string;
    }>(
      `select count(*) filter (where content like 'inbox %')::int as inbox,
              count(*) filter (where recipient_id is null and room_id is null)::int as global,
              count(*) filter (where recipient_id is not null)::int as direct,
              count(*) filter (where recipient_id = sender_id)::int as self,
              count(*) filter (where room_id is not null)::int as room,
              count(*) filter (where reply_count > 0)::int as roots,
              count(*) filter (where reply_to is not null)::int as replies,
              coalesce(max(reply_count), 0)::int as longest,
              pg_relation_size('messages') as table, pg_total_relation_size('messages') as total
       from messages where seq > $1`,
      [headBefore],
    );
    const c = countRows[0];

    // Deep cursors: messages at random positions of the seed, by listing.
    const seqs = Array.from({ length: Math.min(CURSOR_SAMPLE, o.messages) }, () => headBefore + 1 + Math.floor(Math.random() * o.messages));
    const { rows: sample } = await client.query<{
      id: string;
      sender_id: string;
      recipient_id: string | null;
      room_id: string | null;
      reply_to: string | null;
    }>('select id, sender_id, recipient_id, room_id, reply_to from messages where seq = any($1::bigint[])', [seqs]);
    const deep: Seeded['deep'] = { global: [], room: new Map(), pair: new Map(), thread: new Map() };
    const push = (map: Map<string, string[]>, key: string, id: string) => map.set(key, [...(map.get(key) ?? []), id]);
    for (const m of sample) {
      if (m.reply_to !== null) push(deep.thread, m.reply_to, m.id);
      if (m.room_id !== null) push(deep.room, m.room_id, m.id);
      else if (m.recipient_id !== null) push(deep.pair, pairKey(m.sender_id, m.recipient_id), m.id);
      else deep.global.push(m.id);
    }

    const { rows: rootRows } = await client.query<{ id: string; room_id: string }>(
      'select id, room_id from messages where seq > $1 and reply_count > 0',
      [headBefore],
    );
    const roots = new Map<string, string[]>();
    for (const r of rootRows) push(roots, r.room_id, r.id);

    const readers = users.slice(0, o.readers).map((user, i): Reader => {
      const friends = [0, ...Array.from({ length: FRIENDS }, (_, k) => k + 1).flatMap((k) => [k, -k])];
      return {
        user,
        inbox: inboxUsers[i % inboxUsers.length] as BenchUser,
        rooms: roomsOf(i, o.rooms, o.roomsPerUser).map((r) => roomIds[r] as string),
        partners: friends.map((k) => ids[(((i + k) % ids.length) + ids.length) % ids.length] as string),
      };
    });
    return {
      headBefore,
      lastSeq: headBefore + o.messages + inboxMessages,
      inboxConversations: 1 + o.inboxRooms + o.inboxPartners,
      counts: {
        global: c?.global ?? 0,
        direct: c?.direct ?? 0,
        self: c?.self ?? 0,
        room: c?.room ?? 0,
        roots: c?.roots ?? 0,
        replies: c?.replies ?? 0,
        longestThread: c?.longest ?? 0,
        inbox: c?.inbox ?? 0,
      },
      users: users.length,
      rooms: roomIds.length,
      memberships: memberUser.length,
      insertMs,
      vacuumMs,
      tableBytes: Number(c?.table ?? 0),
      totalBytes: Number(c?.total ?? 0),
      readers,
      roomIds,
      deep,
      roots,
    };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** Removes the seed again, so a later section (metrics: send once more) does not write into a table 1M rows larger than the first time. */
async function unseed(ctx: BenchContext, s: Seeded): Promise<number> {
  const client = new pg.Client({ connectionString: ctx.db.database.url });
  await client.connect();
  const t0 = nowMs();
  try {
    await client.query('delete from messages where seq > $1 and seq <= $2', [s.headBefore, s.lastSeq]);
    await client.query('delete from rooms where id = any($1::uuid[])', [s.roomIds]);
    await client.query('vacuum (analyze) messages');
    return nowMs() - t0;
  } finally {
    await client.end();
  }
}

// ------------------------------------------------ gateways catching up the log

/** The gateway's watermark, from the cursor of a fresh connection's first frame. */
function watermarkOf(port: number, user: BenchUser): Promise<number> {
  const codec = createCursorCodec(JWT_SECRET);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws/connect`, {
      headers: { authorization: `Bearer ${user.token}` },
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`gateway :${port} sent no first frame`));
    }, 10_000);
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer);
      ws.terminate();
      try {
        const frame = JSON.parse(data.toString()) as { cursor?: string };
        resolve(codec.decode(frame.cursor ?? '', user.id).seq);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Every gateway reads what was added to the log (the seed) in pages, as it
 * would after any gap; until it has, a resume would wait for it. Resolves with
 * how long that took.
 */
async function gatewaysCaughtUp(ctx: BenchContext, user: BenchUser, head: number): Promise<number> {
  const t0 = nowMs();
  let lastSaid = t0;
  for (;;) {
    const marks = await Promise.all(ctx.cluster.gatewayPorts.map((port) => watermarkOf(port, user)));
    if (marks.every((m) => m >= head)) return nowMs() - t0;
    if (nowMs() - lastSaid > 10_000) {
      ctx.say(`history: gateways catching up the log: ${marks.map((m) => num(m)).join(', ')} of ${num(head)}`);
      lastSaid = nowMs();
    }
    if (nowMs() - t0 > 20 * 60_000) throw new Error(`gateways did not reach the log head ${head} in 20 minutes (at ${marks.join(', ')})`);
    await sleep(1_000);
  }
}

// ------------------------------------------------------------ the counters

interface TableCounters {
  seqScan: number;
  seqTupRead: number;
  idxScan: number;
  idxTupFetch: number;
  /** By index name: scans and index entries returned. */
  indexes: Record<string, { scans: number; tuples: number }>;
}

async function counters(databaseUrl: string): Promise<TableCounters> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: t } = await client.query<{ seq_scan: string; seq_tup_read: string; idx_scan: string | null; idx_tup_fetch: string | null }>(
      `select seq_scan, seq_tup_read, idx_scan, idx_tup_fetch from pg_stat_user_tables where relname = 'messages'`,
    );
    const { rows: ix } = await client.query<{ name: string; scans: string; tuples: string }>(
      `select indexrelname as name, idx_scan as scans, idx_tup_read as tuples from pg_stat_user_indexes where relname = 'messages'`,
    );
    const row = t[0];
    return {
      seqScan: Number(row?.seq_scan ?? 0),
      seqTupRead: Number(row?.seq_tup_read ?? 0),
      idxScan: Number(row?.idx_scan ?? 0),
      idxTupFetch: Number(row?.idx_tup_fetch ?? 0),
      indexes: Object.fromEntries(ix.map((r) => [r.name, { scans: Number(r.scans), tuples: Number(r.tuples) }])),
    };
  } finally {
    await client.end();
  }
}

function difference(before: TableCounters, after: TableCounters): TableCounters {
  return {
    seqScan: after.seqScan - before.seqScan,
    seqTupRead: after.seqTupRead - before.seqTupRead,
    idxScan: after.idxScan - before.idxScan,
    idxTupFetch: after.idxTupFetch - before.idxTupFetch,
    indexes: Object.fromEntries(
      Object.entries(after.indexes).map(([name, a]) => {
        const b = before.indexes[name] ?? { scans: 0, tuples: 0 };
        return [name, { scans: a.scans - b.scans, tuples: a.tuples - b.tuples }];
      }),
    ),
  };
}

// ------------------------------------------------------------------ the load

interface KindStats {
  kind: Kind;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  perSecond: number;
  latency: Percentiles;
  /** Mean messages per page (reads) or replayed messages per resume. */
  meanItems: number;
}

class Recorder {
  private readonly byKind = new Map<Kind, { latencies: number[]; ok: number; failed: number; statuses: Record<string, number>; items: number }>();
  /** Every request started, warm-up included (the counters see those too). */
  issued = 0;

  record(kind: Kind, status: string, ok: boolean, latencyMs: number, items: number, counted: boolean) {
    if (!counted) return;
    let r = this.byKind.get(kind);
    if (!r) {
      r = { latencies: [], ok: 0, failed: 0, statuses: {}, items: 0 };
      this.byKind.set(kind, r);
    }
    r.statuses[status] = (r.statuses[status] ?? 0) + 1;
    if (ok) {
      r.ok++;
      r.latencies.push(latencyMs);
      r.items += items;
    } else {
      r.failed++;
    }
  }

  /** Percentiles over every kind. */
  all(): Percentiles {
    return percentiles([...this.byKind.values()].flatMap((r) => r.latencies));
  }

  stats(kinds: readonly Kind[], durationMs: number): KindStats[] {
    return kinds.map((kind) => {
      const r = this.byKind.get(kind) ?? { latencies: [], ok: 0, failed: 0, statuses: {}, items: 0 };
      return {
        kind,
        ok: r.ok,
        failed: r.failed,
        statuses: r.statuses,
        perSecond: r.ok / (durationMs / 1000),
        latency: percentiles(r.latencies),
        meanItems: r.ok > 0 ? r.items / r.ok : 0,
      };
    });
  }
}

/** One keep-alive connection through nginx per reader: GETs that resolve with the status and whole body. */
function createGetter(base: string, token: string, localAddress: string) {
  const target = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress });
  const headers = { authorization: `Bearer ${token}` };
  return {
    get(path: string): Promise<{ status: number; body: string }> {
      return new Promise((resolve) => {
        const req = http.request({ host: target.hostname, port: target.port, path, method: 'GET', agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', () => resolve({ status: 0, body: '' }));
        });
        req.setTimeout(30_000, () => req.destroy());
        req.on('error', () => resolve({ status: 0, body: '' }));
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}

const NEXT_CURSOR = /"next_cursor":(?:"([\w-]{1,120})"|null)\}\s*$/;
/** A page's items (messages, or conversations) and its next_cursor. */
function pageOf(body: string, itemKey = '"created_at"'): { items: number; next: string | undefined } {
  let items = 0;
  for (let i = body.indexOf(itemKey); i !== -1; i = body.indexOf(itemKey, i + 1)) items++;
  return { items, next: NEXT_CURSOR.exec(body.slice(-160))?.[1] };
}

const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];

/**
 * A reader in a closed loop: each request one of the four listings, half of
 * them first pages and half with `before`: the next_cursor of this reader's
 * previous page of that listing or a message deep in the seed, at random.
 */
async function readLoop(base: string, reader: Reader, localAddress: string, s: Seeded, rec: Recorder, windowStart: number, end: number) {
  const getter = createGetter(base, reader.user.token, localAddress);
  // The inbox is another user's: its own keep-alive connection, from the same address.
  const inboxGetter = createGetter(base, reader.inbox.token, localAddress);
  const next = new Map<string, string>();
  const me = reader.user.id;
  try {
    while (nowMs() < end) {
      const listing = pick(['visible', 'between', 'room', 'thread', 'conversations'] as const) ?? 'visible';
      let key: string;
      let path: string;
      let deep: string[] = [];
      if (listing === 'visible') {
        key = 'visible';
        path = '/api/messages';
        deep = s.deep.global;
      } else if (listing === 'between') {
        const other = pick(reader.partners) ?? me;
        key = `between:${other}`;
        path = `/api/messages/between/${me}/${other}`;
        deep = s.deep.pair.get(pairKey(me, other)) ?? [];
      } else if (listing === 'room') {
        const room = pick(reader.rooms) ?? '';
        key = `room:${room}`;
        path = `/api/rooms/${room}/messages`;
        deep = s.deep.room.get(room) ?? [];
      } else if (listing === 'conversations') {
        key = 'conversations';
        path = '/api/conversations';
      } else {
        // A thread in one of the reader's rooms (a member sees them all).
        const root = pick(reader.rooms.flatMap((r) => s.roots.get(r) ?? [])) ?? '';
        key = `thread:${root}`;
        path = `/api/messages/${root}/replies`;
        deep = s.deep.thread.get(root) ?? [];
      }
      let before: string | undefined;
      if (Math.random() < 0.5) {
        const chained = next.get(key);
        const far = pick(deep);
        before = Math.random() < 0.5 ? (chained ?? far) : (far ?? chained);
      }
      const kind: ReadKind = before === undefined ? listing : `${listing}, before`;
      rec.issued++;
      const t0 = nowMs();
      const res = await (listing === 'conversations' ? inboxGetter : getter).get(before === undefined ? path : `${path}?before=${before}`);
      const t1 = nowMs();
      const ok = res.status === 200;
      const page = ok ? pageOf(res.body, listing === 'conversations' ? '"unread_count"' : '"created_at"') : { items: 0, next: undefined };
      if (page.next === undefined) next.delete(key);
      else next.set(key, page.next);
      rec.record(kind, String(res.status), ok, t1 - t0, page.items, t0 >= windowStart && t1 <= end);
      // Do not spin on a refusing server.
      if (!ok) await sleep(5);
    }
  } finally {
    getter.close();
    inboxGetter.close();
  }
}

/** One reconnect with `since`: the time from asking for the upgrade to the `resumed` or `reload` frame. */
function resumeOnce(url: string, token: string, localAddress: string): Promise<{ status: string; ms: number; replayed: number }> {
  return new Promise((resolve) => {
    const t0 = nowMs();
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, localAddress, perMessageDeflate: false });
    let replayed = 0;
    let settled = false;
    const done = (status: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, ms: nowMs() - t0, replayed });
      ws.terminate();
    };
    const timer = setTimeout(() => done('timeout'), 30_000);
    ws.on('message', (data: Buffer) => {
      let frame: { type?: string; code?: string };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        return done('bad frame');
      }
      if (frame.type === 'message') replayed++;
      else if (frame.type === 'resumed' || frame.type === 'reload') done(frame.type);
      else if (frame.type === 'error') done(`error ${frame.code ?? ''}`.trim());
    });
    ws.on('unexpected-response', (_req, res) => done(`http ${res.statusCode ?? 0}`));
    ws.on('error', () => done('network'));
    ws.on('close', (code) => done(`closed ${code}`));
  });
}

async function resumeLoop(
  wsBase: string,
  user: BenchUser,
  localAddress: string,
  s: Seeded,
  head: number,
  rec: Recorder,
  windowStart: number,
  end: number,
) {
  const codec = createCursorCodec(JWT_SECRET);
  let i = 0;
  while (nowMs() < end) {
    const kind: ResumeKind = i++ % 2 === 0 ? 'resume, near' : 'resume, far back';
    const since = codec.forUser(user.id, kind === 'resume, near' ? head - NEAR_BACK : s.headBefore);
    rec.issued++;
    const t0 = nowMs();
    const r = await resumeOnce(`${wsBase}/api/ws/connect?since=${since}`, user.token, localAddress);
    const expected = kind === 'resume, near' ? 'resumed' : 'reload';
    rec.record(kind, r.status, r.status === expected, r.ms, r.replayed, t0 >= windowStart && t0 + r.ms <= end);
    if (r.status !== expected) await sleep(5);
  }
}

interface RoundResult {
  round: number;
  reads: KindStats[];
  readsPerSecond: number;
  /** The same reads by one reader alone: what a request costs without queueing behind 49 others. */
  solo: KindStats[];
  soloAll: Percentiles;
  resumes: KindStats[];
  issued: number;
  /** Every process's CPU during the readers' measured window. */
  cpu: CpuUse;
}

async function runRound(ctx: BenchContext, s: Seeded, round: number): Promise<RoundResult> {
  const o = ctx.opts.history;
  const base = ctx.cluster.lbUrl;
  const reads = new Recorder();
  let windowStart = nowMs() + o.warmupMs;
  let end = windowStart + o.durationMs;
  const cpu = cpuWindow(o.warmupMs, o.durationMs);
  // One source address per reader, as the send section does: nginx's per-address guard is for floods from one client.
  await Promise.all(s.readers.map((r, i) => readLoop(base, r, loopback(i), s, reads, windowStart, end)));
  const readStats = reads.stats(READ_KINDS, o.durationMs);

  const solo = new Recorder();
  windowStart = nowMs() + Math.min(o.warmupMs, 500);
  end = windowStart + o.soloMs;
  const one = s.readers[(round - 1) % s.readers.length] as Reader;
  await readLoop(base, one, loopback(0), s, solo, windowStart, end);

  const resumes = new Recorder();
  const warm = Math.min(o.warmupMs, 1_000);
  windowStart = nowMs() + warm;
  end = windowStart + o.resumeMs;
  const wsBase = base.replace(/^http/, 'ws');
  await Promise.all(
    s.readers.slice(0, o.resumers).map((r, i) => resumeLoop(wsBase, r.user, loopback(o.readers + i), s, s.lastSeq, resumes, windowStart, end)),
  );
  return {
    round,
    reads: readStats,
    readsPerSecond: readStats.reduce((sum, k) => sum + k.perSecond, 0),
    solo: solo.stats(READ_KINDS, o.soloMs),
    soloAll: solo.all(),
    resumes: resumes.stats(RESUME_KINDS, o.resumeMs),
    issued: reads.issued + solo.issued + resumes.issued,
    cpu: await cpu,
  };
}

// --------------------------------------------------------------- the report

function detailTable(rounds: RoundResult[], select: (r: RoundResult) => KindStats[], itemsLabel: string): string {
  return mdTable(
    ['round', 'request', 'ok', '/s', 'p50', 'p95', 'p99', 'max', itemsLabel, 'failed', 'statuses'],
    rounds.flatMap((r) =>
      select(r).map((k) => [
        String(r.round),
        LABEL[k.kind],
        String(k.ok),
        num(k.perSecond),
        ms(k.latency.p50),
        ms(k.latency.p95),
        ms(k.latency.p99),
        ms(k.latency.max),
        num(k.meanItems),
        String(k.failed),
        JSON.stringify(k.statuses),
      ]),
    ),
  );
}

export async function runHistory(ctx: BenchContext): Promise<SectionResult> {
  const o = ctx.opts.history;
  const started = nowMs();
  ctx.say(`history: seeding ${num(o.messages)} messages (${o.users} users, ${o.rooms} rooms, ${o.roomsPerUser} rooms per user)`);
  const s = await seed(ctx);
  ctx.say(
    `history: vacuum analyze ${(s.vacuumMs / 1000).toFixed(1)} s; table ${(s.totalBytes / 2 ** 20).toFixed(0)} MiB with indexes; waiting for the gateways to read the new log`,
  );
  const catchUpMs = await gatewaysCaughtUp(ctx, s.readers[0]?.user as BenchUser, s.lastSeq);
  ctx.say(`history: gateways at the log head after ${(catchUpMs / 1000).toFixed(1)} s`);

  // Counters over the reads only: whatever other backends did before has been flushed by then.
  await sleep(Math.max(0, STATS_FLUSH_MS - (nowMs() - started)));
  const before = await counters(ctx.db.database.url);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= ctx.opts.rounds; round++) {
    const r = await runRound(ctx, s, round);
    rounds.push(r);
    const line = (k: KindStats) => `${k.kind} p99 ${ms(k.latency.p99)}${k.failed > 0 ? ` (${k.failed} failed)` : ''}`;
    ctx.say(`history round ${round}: ${num(r.readsPerSecond)} reads/s; ${[...r.reads, ...r.resumes].map(line).join('; ')}`);
    ctx.say(`history round ${round}, one reader alone: ${r.solo.map((k) => `${k.kind} p50 ${ms(k.latency.p50)}`).join('; ')}`);
  }
  await sleep(STATS_FLUSH_MS);
  const used = difference(before, await counters(ctx.db.database.url));
  const issued = rounds.reduce((sum, r) => sum + r.issued, 0);
  ctx.say(
    `history: during the reads, messages had ${used.seqScan} sequential scans and ${num(used.idxScan)} index scans (${num(used.idxTupFetch / Math.max(issued, 1))} rows fetched per request)`,
  );

  let unseedMs: number | undefined;
  if (ctx.opts.sections.includes('metrics')) {
    unseedMs = await unseed(ctx, s);
    ctx.say(`history: seed removed again in ${(unseedMs / 1000).toFixed(1)} s (the metrics section sends again)`);
  }

  const of = (f: (r: RoundResult) => number) => spread(rounds.map(f));
  const p99Row = (kind: Kind, get: (r: RoundResult) => KindStats | undefined): Row => {
    const sp = of((r) => get(r)?.latency.p99 ?? Number.NaN);
    return {
      figure: `history: ${LABEL[kind]} p99`,
      unit: 'ms',
      project: sp,
      target: `p99 <= ${TARGET_P99_MS} ms`,
      met: Number.isFinite(sp.median) ? sp.median <= TARGET_P99_MS : undefined,
    };
  };
  const failed = of((r) => [...r.reads, ...r.resumes].reduce((sum, k) => sum + k.failed, 0));
  const okReads = (r: RoundResult) => r.reads.reduce((sum, k) => sum + k.ok, 0);
  const rows: Row[] = [
    { figure: `history: seed ${num(o.messages)} messages (insert + vacuum analyze)`, unit: 's', project: spread([(s.insertMs + s.vacuumMs) / 1000]) },
    { figure: `history: reads/s, ${o.readers} closed-loop readers via nginx`, unit: '/s', project: of((r) => r.readsPerSecond) },
    ...READ_KINDS.map((kind) => p99Row(kind, (r) => r.reads.find((k) => k.kind === kind))),
    ...RESUME_KINDS.map((kind) => p99Row(kind, (r) => r.resumes.find((k) => k.kind === kind))),
    { figure: 'history: CPU per read, all processes', unit: 'ms', project: of((r) => r.cpu.totalMs / Math.max(okReads(r), 1)) },
    { figure: 'history: machine busy during the reads', unit: '%', project: of((r) => r.cpu.machineShare * 100) },
    { figure: 'history: one reader alone, p50 (all read kinds)', unit: 'ms', project: of((r) => r.soloAll.p50) },
    { figure: 'history: one reader alone, p99 (all read kinds)', unit: 'ms', project: of((r) => r.soloAll.p99) },
    { figure: 'history: failed requests (reads and resumes)', unit: '', project: failed, target: '0', met: failed.max === 0 },
    {
      figure: 'history: sequential scans of messages during the reads (index scans only)',
      unit: '',
      project: spread([used.seqScan]),
      target: '0',
      met: used.seqScan === 0 && used.idxScan > 0,
    },
  ];

  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const seedTable = mdTable(
    ['', ''],
    [
      [
        'messages seeded',
        `${num(o.messages)}: ${num(s.counts.global)} global, ${num(s.counts.direct)} direct (${num(s.counts.self)} to oneself), ${num(s.counts.room)} in rooms`,
      ],
      [
        'inbox users',
        `${o.inboxUsers}, each in ${num(s.inboxConversations)} conversations: global, ${o.inboxRooms} rooms, ${num(o.inboxPartners)} direct partners (3 messages per pair, both ways: ${num(s.counts.inbox)} messages on top of the seed)`,
      ],
      [
        'threads (in rooms)',
        `${num(s.counts.roots)} roots, ${num(s.counts.replies)} replies (the longest thread ${num(s.counts.longestThread)}); reply_count and last_reply_at set on the roots`,
      ],
      ['seq', `${num(s.headBefore + 1)}..${num(s.lastSeq)} (message_log head moved to ${num(s.lastSeq)})`],
      ['users, rooms, memberships', `${s.users}, ${s.rooms}, ${s.memberships} (${o.roomsPerUser} rooms per user)`],
      ['insert (one statement)', `${(s.insertMs / 1000).toFixed(1)} s`],
      ['vacuum (analyze)', `${(s.vacuumMs / 1000).toFixed(1)} s`],
      ['gateways reading the seed from the log', `${(catchUpMs / 1000).toFixed(1)} s`],
      ['messages: table / with indexes', `${mib(s.tableBytes)} / ${mib(s.totalBytes)}`],
      ...(unseedMs === undefined ? [] : [['seed removed afterwards (metrics follows)', `${(unseedMs / 1000).toFixed(1)} s`]]),
    ],
  );
  const indexTable = mdTable(
    ['index of messages', 'scans', 'entries read', 'entries per scan'],
    Object.entries(used.indexes)
      .filter(([, v]) => v.scans > 0)
      .sort((a, b) => b[1].scans - a[1].scans)
      .map(([name, v]) => [name, num(v.scans), num(v.tuples), num(v.tuples / v.scans)]),
  );
  const detail = [
    `Seed: one \`insert ... select generate_series\` under the log's numbering lock (seq dense after the head, three messages per second of created_at so the cursor has ties), then \`vacuum (analyze)\`. ` +
      `Direct messages go mostly between neighbouring users (about ${num(Math.round((s.counts.direct * 0.8) / (s.users * FRIENDS)))} per pair), so \`between\` pages through real conversations.`,
    '',
    seedTable,
    '',
    `Reads: ${o.readers} closed-loop readers (own user, one keep-alive connection and loopback source address each) through nginx, ${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s measured per round. ` +
      "Each request: one of the five listings (the caller's visible messages; a conversation with one of its 8 neighbours or itself; one of its rooms; a thread in one of its rooms; " +
      `the conversation list of one of the ${o.inboxUsers} inbox users, each in ${num(s.inboxConversations)} conversations), ` +
      "half of them first pages and half with `before`: the `next_cursor` of the reader's previous page of that listing, or a message at a random depth of the seed. Default page size (50).",
    '',
    detailTable(rounds, (r) => r.reads, 'items/page'),
    '',
    'CPU in the readers\' measured window, per successful read, from /proc/<pid>/stat of every process on the machine (scripts/bench/cpu.ts; "bench process" is the readers).',
    '',
    cpuTable(rounds.map((r) => ({ label: `${o.readers} readers`, round: r.round, use: r.cpu, operations: okReads(r), unit: 'read' }))),
    '',
    `The same reads by one reader alone (${o.soloMs / 1000} s per round): the cost of a request without queueing behind the others.`,
    '',
    detailTable(rounds, (r) => r.solo, 'items/page'),
    '',
    `Resumes: ${o.resumers} closed-loop plain-WS clients (readers' users) through nginx, ${o.resumeMs / 1000} s per round, alternating a cursor ${NEAR_BACK} log positions behind the head ` +
      `(replayed, then \`resumed\`) and one from before the seed (more than RESUME_MAX_BACKLOG visible: \`reload\`). Cursors are minted with the cluster's secret through \`createCursorCodec\` (@chat/shared/chat), ` +
      'as users.ts signs tokens. Time from the upgrade request to the `resumed` / `reload` frame.',
    '',
    detailTable(rounds, (r) => r.resumes, 'replayed/resume'),
    '',
    `\`messages\` in pg_stat_user_tables over all rounds (warm-up, resumes and the gateways' 1 s log polls included; ${num(issued)} requests): ` +
      `${used.seqScan} sequential scans (${num(used.seqTupRead)} rows), ${num(used.idxScan)} index scans, ${num(used.idxTupFetch)} rows fetched by index scans ` +
      `(${num(used.idxTupFetch / Math.max(issued, 1))} per request). The statements are not EXPLAINed here: \`historyQueries\` is not exported by a public entry point of @chat/shared; ` +
      "shared/src/db/queries/messages-plans.test.ts EXPLAINs them. The one-entry scans of messages_seq_key are no plan's reads: they are the planner looking up " +
      "the index's actual end for the `seq <= head` estimate of each resume statement.",
    '',
    indexTable,
  ].join('\n');

  return {
    name: 'history',
    rows,
    detail,
    data: {
      seed: { ...s, readers: s.readers.length, deep: undefined, roomIds: undefined, roots: undefined },
      catchUpMs,
      unseedMs,
      rounds,
      counters: used,
    },
  };
}
