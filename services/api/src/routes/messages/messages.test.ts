import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@chat/shared/model';
import { messageFixture } from '@chat/shared/testing';
import { tapEvents, type EventTap } from '../../../test/events.ts';
import { createRoom, createUser, sendMessage, startApi, uniqueName, type TestApi, type TestUser } from '../../../test/harness.ts';

let api: TestApi;
let tap: EventTap;
beforeAll(async () => {
  api = await startApi();
  tap = await tapEvents(api);
});
afterAll(async () => {
  await tap.close();
  await api.close();
});

interface MessagePage {
  messages: ChatMessage[];
  next_cursor: string | null;
}

const post = (from: TestUser, json: unknown) => api.fetch('/api/messages', { method: 'POST', token: from.token, json });

async function page(user: TestUser, path: string): Promise<MessagePage> {
  const res = await api.fetch(path, { token: user.token });
  expect(res.status).toBe(200);
  return (await res.json()) as MessagePage;
}

/** Follows next_cursor to the end and returns every message in the order served. */
async function readAll(user: TestUser, path: string, limit = 100, from: string | null = null): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let cursor = from;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const body: MessagePage = await page(user, `${path}${sep}limit=${limit}${cursor ? `&before=${cursor}` : ''}`);
    all.push(...body.messages);
    cursor = body.next_cursor;
  } while (cursor);
  return all;
}

/**
 * Newest first. (The database orders by microseconds, then id; the JSON shows
 * milliseconds, so within one millisecond the order cannot be checked here.)
 */
function expectNewestFirst(messages: ChatMessage[]) {
  for (let i = 1; i < messages.length; i++) {
    const [a, b] = [messages[i - 1]!, messages[i]!];
    expect(a.created_at >= b.created_at, `${a.id} (${a.created_at}) before ${b.id} (${b.created_at})`).toBe(true);
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('POST /api/messages', () => {
  it('stores a global message and returns the committed row with 201', async () => {
    const alice = await createUser(api);
    const res = await post(alice, { content: 'hello everyone' });
    expect(res.status).toBe(201);
    const message = (await res.json()) as ChatMessage;
    expect(message).toEqual(
      messageFixture({
        id: expect.stringMatching(UUID) as string,
        sender: alice.username,
        content: 'hello everyone',
        created_at: expect.stringMatching(ISO) as string,
      }),
    );
    const stored = await api.resources.db.selectFrom('messages').selectAll().where('id', '=', message.id).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ sender_id: alice.id, recipient_id: null, room_id: null, content: 'hello everyone' });
    expect(stored.created_at.toISOString()).toBe(message.created_at);
  });

  it('sends a direct message to a recipient named by username (any case) or by id', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    for (const recipient of [bob.username, bob.username.toUpperCase(), bob.id, bob.id.toUpperCase()]) {
      const res = await post(alice, { content: `dm via ${recipient}`, recipient });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ sender: alice.username, recipient: bob.username, room_id: null, content: `dm via ${recipient}` });
    }
  });

  it('sends a message to a room its sender belongs to', async () => {
    const alice = await createUser(api);
    const room = await createRoom(api, alice, 'general');
    const res = await post(alice, { content: 'room hello', room_id: room.id });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ sender: alice.username, recipient: null, room_id: room.id, content: 'room hello' });
  });

  it('treats explicit nulls for recipient and room_id as a global message', async () => {
    const alice = await createUser(api);
    const res = await post(alice, { content: 'nulls', recipient: null, room_id: null, sender: null });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ recipient: null, room_id: null });
  });

  it('accepts a sender field naming the caller in any case, and refuses anyone else with 403', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    for (const sender of [alice.username, alice.username.toUpperCase(), alice.id]) {
      expect((await post(alice, { content: 'me', sender })).status).toBe(201);
    }
    for (const sender of [bob.username, bob.id, 'nobody_at_all', '']) {
      const res = await post(alice, { content: 'impersonation', sender });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'you can only send messages as yourself', code: 'forbidden' });
    }
  });

  it('refuses an unknown recipient or room with 404 and a room the sender is not in with 403', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const unknownUser = await post(alice, { content: 'x', recipient: uniqueName('ghost') });
    expect(unknownUser.status).toBe(404);
    expect(await unknownUser.json()).toEqual({ error: 'recipient not found', code: 'not_found' });
    expect((await post(alice, { content: 'x', recipient: crypto.randomUUID() })).status).toBe(404);

    const unknownRoom = await post(alice, { content: 'x', room_id: crypto.randomUUID() });
    expect(unknownRoom.status).toBe(404);
    expect(await unknownRoom.json()).toEqual({ error: 'room not found', code: 'not_found' });

    const bobsRoom = await createRoom(api, bob, 'private');
    const outsider = await post(alice, { content: 'x', room_id: bobsRoom.id });
    expect(outsider.status).toBe(403);
    expect(await outsider.json()).toEqual({ error: 'you are not a member of this room', code: 'forbidden' });
  });

  it.each([
    ['both recipient and room_id', { content: 'x', recipient: 'someone', room_id: '00000000-0000-4000-8000-000000000000' }, 'room_id'],
    ['no content', {}, 'content'],
    ['empty content', { content: '' }, 'content'],
    ['whitespace-only content', { content: ' \t\n\r\u00a0\u3000 ' }, 'content'],
    ['content over 2000 code points', { content: 'a'.repeat(2001) }, 'content'],
    ['content with NUL', { content: 'nul\u0000byte' }, 'content'],
    ['content with a lone high surrogate', { content: 'broken \ud83d' }, 'content'],
    ['content with a lone low surrogate', { content: '\ude00 broken' }, 'content'],
    ['content that is not a string', { content: 42 }, 'content'],
    ['a recipient that is neither username nor id', { content: 'x', recipient: 'no spaces allowed' }, 'recipient'],
    ['a room_id that is not an id', { content: 'x', room_id: 'general' }, 'room_id'],
    ['a sender that is not a string', { content: 'x', sender: 7 }, 'sender'],
  ])('refuses %s with 400', async (_name, body, field) => {
    const alice = await createUser(api);
    const res = await post(alice, body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; code: string; details: Array<{ field: string }> };
    expect(json).toMatchObject({ error: 'invalid message', code: 'validation_failed' });
    expect(json.details.map((d) => d.field)).toContain(field);
  });

  it.each([
    ['an array', [{ content: 'x' }]],
    ['a string', 'hello'],
    ['null', null],
  ])('refuses a body that is %s with 400', async (_name, body) => {
    const alice = await createUser(api);
    const res = await post(alice, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'validation_failed' });
  });

  it('treats prototype-looking keys as plain data', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const body = `{"content":"proto","__proto__":{"sender":"${bob.username}","room_id":"x"},"constructor":{"prototype":{"recipient":"${bob.username}"}}}`;
    const res = await api.fetch('/api/messages', { method: 'POST', token: alice.token, body });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ sender: alice.username, recipient: null, room_id: null, content: 'proto' });
  });

  it('counts the length limit in code points, not UTF-16 units', async () => {
    const alice = await createUser(api);
    const emoji = '😀'.repeat(2000); // 4000 UTF-16 units, 2000 code points
    const ok = await post(alice, { content: emoji });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as ChatMessage).content).toBe(emoji);
    expect((await post(alice, { content: `${emoji}😀` })).status).toBe(400);
  });

  const tricky = [
    `it's "quoted" and \`backticked\``,
    "'; DROP TABLE messages; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    '$1 $2 %s %d ${process.env} {{template}}',
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    '&lt;already escaped&gt; &amp; &#x27;',
    'back\\slash \\n not a newline \\u0000',
    'line one\nline two\r\nline three\ttabbed',
    '   leading and trailing spaces   ',
    '👩‍👩‍👧‍👦 🇳🇿 👍🏽 🫠',
    'مرحبا بالعالم \u202eRTL override\u202c שלום',
    'e\u0301 vs \u00e9, Zalgo: Z̸̢̛̙a̴̧͎l̷̰͝g̵̱̈o̶̤͘',
    '\ufeffBOM and zero\u200bwidth and \u00a0nbsp',
    'max code point \u{10ffff} and replacement \ufffd',
    '{"content": "nested json", "sender": "admin"}',
    'null',
  ];

  it('round-trips hostile and unusual content byte for byte', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const sent: ChatMessage[] = [];
    for (const content of tricky) {
      const res = await post(alice, { content, recipient: bob.username });
      expect(res.status).toBe(201);
      const message = (await res.json()) as ChatMessage;
      expect(Buffer.from(message.content)).toEqual(Buffer.from(content));
      sent.push(message);
    }
    const readBack = await readAll(bob, `/api/messages/between/${alice.username}/${bob.username}`);
    expect(readBack.map((m) => m.content)).toEqual([...tricky].reverse());
    for (const message of readBack) expect(Buffer.from(message.content)).toEqual(Buffer.from(sent.find((s) => s.id === message.id)!.content));
    const stored = await api.resources.db
      .selectFrom('messages')
      .select(['id', 'content'])
      .where(
        'id',
        'in',
        sent.map((m) => m.id),
      )
      .execute();
    for (const row of stored) expect(row.content).toBe(sent.find((s) => s.id === row.id)!.content);
    // The table survived the SQL-looking content.
    expect((await api.fetch('/api/messages?limit=1', { token: alice.token })).status).toBe(200);
  });
});

describe("the seed README's scenario 2: send over HTTP, read back", () => {
  it('accepts the curl body with "sender" and the cookie, without a Content-Type, and lists it', async () => {
    const user = await createUser(api);
    const res = await api.fetch('/api/messages', {
      method: 'POST',
      headers: { cookie: user.cookie },
      body: JSON.stringify({ sender: user.username, content: 'Hello API!' }),
    });
    expect(res.status).toBe(201);
    const sent = (await res.json()) as ChatMessage;
    expect(sent).toMatchObject({ sender: user.username, recipient: null, room_id: null, content: 'Hello API!' });
    const delivered = await tap.next('deliver', (d) => d.message.id === sent.id);
    expect(delivered).toEqual({ rooms: ['global'], event: 'message', seq: expect.any(Number) as number, message: sent });

    const list = await api.fetch('/api/messages', { headers: { cookie: user.cookie } });
    expect(list.status).toBe(200);
    const body = (await list.json()) as MessagePage;
    expect(body.messages.find((m) => m.id === sent.id)).toEqual(sent);
  });
});

describe('GET /api/messages', () => {
  it('lists only what the caller may see: global, their own DMs and their rooms', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const alicesRoom = await createRoom(api, alice, 'alice room');
    const carolsRoom = await createRoom(api, carol, 'carol room');

    const visible = [
      await sendMessage(api, carol, { content: 'global from carol' }),
      await sendMessage(api, alice, { content: 'alice to bob', recipient: bob.username }),
      await sendMessage(api, bob, { content: 'bob to alice', recipient: alice.id }),
      await sendMessage(api, alice, { content: 'in alice room', room_id: alicesRoom.id }),
    ];
    const hidden = [
      await sendMessage(api, carol, { content: 'carol to bob', recipient: bob.username }),
      await sendMessage(api, carol, { content: 'in carol room', room_id: carolsRoom.id }),
    ];

    const seen = await readAll(alice, '/api/messages');
    const ids = new Set(seen.map((m) => m.id));
    for (const m of visible) expect(ids, m.content).toContain(m.id);
    for (const m of hidden) expect(ids, m.content).not.toContain(m.id);
    for (const m of seen) {
      const mine = m.sender === alice.username || m.recipient === alice.username;
      const global = m.recipient === null && m.room_id === null;
      expect(mine || global || m.room_id !== null).toBe(true);
      if (m.room_id !== null) expect(m.room_id).toBe(alicesRoom.id);
    }

    // Carol sees her DM and room but not the conversation between alice and bob.
    const carolSees = new Set((await readAll(carol, '/api/messages')).map((m) => m.id));
    expect(carolSees).toContain(hidden[0]!.id);
    expect(carolSees).toContain(hidden[1]!.id);
    expect(carolSees).toContain(visible[0]!.id);
    expect(carolSees).not.toContain(visible[1]!.id);
    expect(carolSees).not.toContain(visible[2]!.id);
    expect(carolSees).not.toContain(visible[3]!.id);
  });

  it('returns newest first, and paging with next_cursor yields every visible message exactly once', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const mine: ChatMessage[] = [];
    for (let i = 0; i < 7; i++) mine.push(await sendMessage(api, alice, { content: `page ${i}`, recipient: bob.username }));

    const first = await page(alice, '/api/messages?limit=3');
    expect(first.messages).toHaveLength(3);
    expect(first.next_cursor).toBe(first.messages[2]!.id);

    // Small pages, so the walk crosses many page boundaries.
    const all = await readAll(alice, '/api/messages', 3);
    expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
    expectNewestFirst(all);
    const positions = mine.map((m) => all.findIndex((x) => x.id === m.id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));

    expect(all.map((m) => m.id).filter((id) => mine.some((m) => m.id === id))).toEqual([...mine].reverse().map((m) => m.id));
  });

  it('serves 50 by default with a cursor while more remain, and ends with a null cursor', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    // Enough of alice's own messages that a default page cannot hold them all.
    await Promise.all(Array.from({ length: 51 }, (_, i) => sendMessage(api, alice, { content: `fill ${i}`, recipient: bob.username })));
    const body = await page(alice, '/api/messages');
    expect(body.messages).toHaveLength(50);
    expect(body.next_cursor).toBe(body.messages[49]!.id);
    const rest = await readAll(alice, '/api/messages', 100, body.next_cursor);
    expect(rest.length).toBeGreaterThan(0);
    expectNewestFirst([...body.messages, ...rest]);
    // The last page says there is nothing more.
    const oldest = rest.at(-1)!;
    expect(await page(alice, `/api/messages?before=${oldest.id}`)).toEqual({ messages: [], next_cursor: null });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=-1', 'limit'],
    ['before=not-a-uuid', 'before'],
    [`before=${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, 'before'],
  ])('refuses %s with 400', async (query, field) => {
    const alice = await createUser(api);
    const res = await api.fetch(`/api/messages?${query}`, { token: alice.token });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { code: string; details: Array<{ field: string }> };
    expect(json.code).toBe('validation_failed');
    expect(json.details.map((d) => d.field)).toEqual([field]);
  });
});

describe('GET /api/messages/between/:user1/:user2', () => {
  it('returns both directions of the conversation and nothing else, for either participant', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const a1 = await sendMessage(api, alice, { content: 'a->b 1', recipient: bob.username });
    const b1 = await sendMessage(api, bob, { content: 'b->a 1', recipient: alice.username });
    const a2 = await sendMessage(api, alice, { content: 'a->b 2', recipient: bob.id });
    await sendMessage(api, alice, { content: 'a->c', recipient: carol.username });
    await sendMessage(api, carol, { content: 'c->b', recipient: bob.username });
    await sendMessage(api, alice, { content: 'a global' });
    const expected = [a2.id, b1.id, a1.id];

    const forms: Array<[TestUser, string, string]> = [
      [alice, alice.username, bob.username],
      [alice, bob.username, alice.username],
      [alice, alice.id, bob.id],
      [bob, bob.username.toUpperCase(), alice.id],
      [bob, alice.username, bob.id.toUpperCase()],
    ];
    for (const [caller, u1, u2] of forms) {
      const body = await page(caller, `/api/messages/between/${u1}/${u2}`);
      expect(body.messages.map((m) => m.id)).toEqual(expected);
      expect(body.next_cursor).toBeNull();
    }
    const first = await page(alice, `/api/messages/between/${alice.username}/${bob.username}?limit=2`);
    expect(first.messages.map((m) => m.id)).toEqual(expected.slice(0, 2));
    expect(first.next_cursor).toBe(expected[1]);
    const rest = await page(alice, `/api/messages/between/${alice.username}/${bob.username}?limit=2&before=${first.next_cursor}`);
    expect(rest).toEqual({ messages: [expect.objectContaining({ id: a1.id, content: 'a->b 1' })], next_cursor: null });
  });

  it('refuses a third party with 403, whether or not the users exist', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    await sendMessage(api, alice, { content: 'private', recipient: bob.username });
    for (const [u1, u2] of [
      [alice.username, bob.username],
      [alice.id, bob.id],
      [uniqueName('ghost'), uniqueName('ghost')],
      [crypto.randomUUID(), bob.username],
    ]) {
      const res = await api.fetch(`/api/messages/between/${u1}/${u2}`, { token: carol.token });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'you can only read your own conversations', code: 'forbidden' });
    }
  });

  it('answers 404 for an unknown other user and 400 for malformed names or query', async () => {
    const alice = await createUser(api);
    for (const other of [uniqueName('ghost'), crypto.randomUUID()]) {
      const res = await api.fetch(`/api/messages/between/${alice.username}/${other}`, { token: alice.token });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'user not found', code: 'not_found' });
    }
    for (const path of [
      `/api/messages/between/${alice.username}/x`,
      `/api/messages/between/${alice.username}/has%20space`,
      `/api/messages/between/${alice.username}/${alice.username}?limit=0`,
      `/api/messages/between/${alice.username}/${alice.username}?before=${crypto.randomUUID()}`,
    ]) {
      const res = await api.fetch(path, { token: alice.token });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'validation_failed' });
    }
  });
});

describe('publishing', () => {
  it('announces a global message to the global room after the commit', async () => {
    const alice = await createUser(api);
    const sent = (await (await post(alice, { content: 'to everyone' })).json()) as ChatMessage;
    expect(await tap.next('deliver', (d) => d.message.id === sent.id)).toEqual({
      rooms: ['global'],
      event: 'message',
      seq: expect.any(Number) as number,
      message: sent,
    });
  });

  it("announces a direct message to the recipient's and the sender's user rooms", async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const sent = await sendMessage(api, alice, { content: 'psst', recipient: bob.username });
    expect(await tap.next('deliver', (d) => d.message.id === sent.id)).toEqual({
      rooms: [`user:${bob.id}`, `user:${alice.id}`],
      seq: expect.any(Number) as number,
      event: 'direct_message',
      message: sent,
    });
  });

  it('announces a direct message to oneself once', async () => {
    const alice = await createUser(api);
    const sent = await sendMessage(api, alice, { content: 'note to self', recipient: alice.username });
    expect(await tap.next('deliver', (d) => d.message.id === sent.id)).toMatchObject({ rooms: [`user:${alice.id}`], event: 'direct_message' });
  });

  it('announces a room message to the room', async () => {
    const alice = await createUser(api);
    const room = await createRoom(api, alice, 'announcements');
    const sent = await sendMessage(api, alice, { content: 'room news', room_id: room.id });
    expect(await tap.next('deliver', (d) => d.message.id === sent.id)).toEqual({
      rooms: [`room:${room.id}`],
      event: 'message',
      seq: expect.any(Number) as number,
      message: sent,
    });
  });

  it('publishes nothing for a refused message', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const bobsRoom = await createRoom(api, bob, 'closed');
    const before = tap.events.length;
    expect((await post(alice, { content: '' })).status).toBe(400);
    expect((await post(alice, { content: 'x', room_id: bobsRoom.id })).status).toBe(403);
    expect((await post(alice, { content: 'x', recipient: uniqueName('ghost') })).status).toBe(404);
    expect((await post(alice, { content: 'x', sender: bob.username })).status).toBe(403);
    // One publisher connection keeps order: once this marker arrives, anything
    // the refused requests had published would already be here.
    const marker = await sendMessage(api, alice, { content: 'marker' });
    await tap.next('deliver', (d) => d.message.id === marker.id);
    const since = tap.events.slice(before).filter((e) => e.name === 'deliver' && e.payload.message.sender === alice.username);
    expect(since).toHaveLength(1);
  });
});
