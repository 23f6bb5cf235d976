import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, ConversationSummary } from '@chat/shared/model';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../../test/harness.ts';

// GET /api/conversations, PUT /api/conversations/{id}/read and GET
// /api/conversations/{id}/reads: the inbox a client draws, read positions
// that only move forward, and who may see whose.

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

type Conversation = ConversationSummary<ChatMessage>;
interface ConversationPage {
  conversations: Conversation[];
  next_cursor: string | null;
}

async function list(as: TestUser, query = ''): Promise<ConversationPage> {
  const res = await api.fetch(`/api/conversations${query}`, { token: as.token });
  expect(res.status).toBe(200);
  return (await res.json()) as ConversationPage;
}

const byId = (page: ConversationPage, id: string) => page.conversations.find((c) => c.id === id);
const read = (as: TestUser, conversation: string, messageId: string) =>
  api.fetch(`/api/conversations/${conversation}/read`, { method: 'PUT', token: as.token, json: { message_id: messageId } });

describe('GET /api/conversations', () => {
  it('lists global, direct conversations and rooms, most recently active first, with last message and unread counts', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'book club');
    await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token });
    await sendMessage(api, bob, { content: 'hi alice', recipient: alice.username });
    const second = await sendMessage(api, bob, { content: 'are you there?', recipient: alice.username });
    await sendMessage(api, alice, { content: 'to carol', recipient: carol.username });
    const roomLast = await sendMessage(api, bob, { content: 'chapter 3', room_id: room.id });

    const page = await list(alice);
    const ids = page.conversations.map((c) => c.id);
    // The room spoke last, then carol's conversation, then bob's; global is there too.
    expect(ids.slice(0, 3)).toEqual([`room:${room.id}`, `user:${carol.id}`, `user:${bob.id}`]);
    expect(ids).toContain('global');

    expect(byId(page, `user:${bob.id}`)).toEqual({
      id: `user:${bob.id}`,
      kind: 'direct',
      title: bob.username,
      last_message: second,
      unread_count: 2,
      unread_capped: false,
      read_up_to: null,
      updated_at: second.created_at,
      online: false,
    });
    // Her own message is not unread to her.
    expect(byId(page, `user:${carol.id}`)).toMatchObject({ kind: 'direct', title: carol.username, unread_count: 0 });
    expect(byId(page, `room:${room.id}`)).toMatchObject({ kind: 'room', title: 'book club', last_message: roomLast, unread_count: 1, online: null });
    expect(byId(page, 'global')).toMatchObject({ kind: 'global', title: 'global', online: null });
  });

  it('shows a room without messages from when the caller joined it, and pages with next_cursor', async () => {
    const alice = await createUser(api);
    const rooms = [];
    for (let i = 0; i < 5; i++) rooms.push(await createRoom(api, alice, `quiet ${i}`));
    const first = await list(alice, '?limit=2');
    expect(first.conversations).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const seen = [...first.conversations];
    let cursor = first.next_cursor;
    while (cursor !== null) {
      const next = await list(alice, `?limit=2&before=${encodeURIComponent(cursor)}`);
      seen.push(...next.conversations);
      cursor = next.next_cursor;
    }
    // Every conversation once: global and the five rooms, newest joined first.
    expect(seen.map((c) => c.id).sort()).toEqual(['global', ...rooms.map((r) => `room:${r.id}`)].sort());
    expect(seen.filter((c) => c.kind === 'room').map((c) => c.title)).toEqual(['quiet 4', 'quiet 3', 'quiet 2', 'quiet 1', 'quiet 0']);
    for (const c of seen.filter((c) => c.kind === 'room')) expect(c).toMatchObject({ last_message: null, unread_count: 0 });
  });

  it('caps unread counts at 100', async () => {
    const [alice, bob, carol, dave] = await Promise.all([createUser(api), createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, bob, 'busy');
    for (const u of [alice, carol, dave]) await api.fetch(`/api/rooms/${room.id}/members/${u.id}`, { method: 'POST', token: bob.token });
    // 105 messages from three senders (each well within the send rate limit).
    await Promise.all(
      [bob, carol, dave].map(async (sender) => {
        for (let i = 0; i < 35; i++) await sendMessage(api, sender, { content: `m${i}`, room_id: room.id });
      }),
    );
    expect(byId(await list(alice), `room:${room.id}`)).toMatchObject({ unread_count: 100, unread_capped: true });
    expect(byId(await list(bob), `room:${room.id}`)).toMatchObject({ unread_count: 70, unread_capped: false });
  });

  it('refuses a malformed cursor and a bad limit with 400', async () => {
    const alice = await createUser(api);
    for (const query of ['?before=nope', '?before=' + Buffer.from('[1,2]').toString('base64url'), '?limit=0', '?limit=101']) {
      const res = await api.fetch(`/api/conversations${query}`, { token: alice.token });
      expect(res.status, query).toBe(400);
    }
    expect((await api.fetch('/api/conversations')).status).toBe(401);
  });
});

describe('PUT /api/conversations/{id}/read', () => {
  it('moves the read position forward only, and the unread count follows it', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const one = await sendMessage(api, bob, { content: 'one', recipient: alice.username });
    const two = await sendMessage(api, bob, { content: 'two', recipient: alice.username });
    await sendMessage(api, bob, { content: 'three', recipient: alice.username });

    const res = await read(alice, `user:${bob.id}`, two.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ conversation: `user:${bob.id}`, message_id: two.id, updated_at: expect.any(String) as string });
    expect(byId(await list(alice), `user:${bob.id}`)).toMatchObject({ read_up_to: two.id, unread_count: 1 });

    // Back to an older message: the position stands, and says so.
    const back = await read(alice, `user:${bob.id}`, one.id);
    expect(back.status).toBe(200);
    expect(((await back.json()) as { message_id: string }).message_id).toBe(two.id);

    // Stored per side: bob's own view of the conversation is untouched.
    expect(byId(await list(bob), `user:${alice.id}`)).toMatchObject({ read_up_to: null });
  });

  it('takes messages of that conversation only: elsewhere and invisible ones are 404, rooms one is not in 403', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const dm = await sendMessage(api, bob, { content: 'for alice', recipient: alice.username });
    const other = await sendMessage(api, bob, { content: 'for carol', recipient: carol.username });
    const room = await createRoom(api, bob, 'private');
    const inRoom = await sendMessage(api, bob, { content: 'members only', room_id: room.id });
    const global = await sendMessage(api, bob, { content: 'everyone' });

    // A message of another conversation, one she cannot see, and a global one under a DM id.
    expect((await read(alice, `user:${carol.id}`, dm.id)).status).toBe(404);
    expect((await read(alice, `user:${bob.id}`, other.id)).status).toBe(404);
    expect((await read(alice, `user:${bob.id}`, global.id)).status).toBe(404);
    // user:<id> and room:<id> do not stand for each other.
    expect((await read(alice, `room:${bob.id}`, dm.id)).status).toBe(404);
    expect((await read(alice, `room:${room.id}`, inRoom.id)).status).toBe(403);
    expect((await read(alice, `user:${bob.id}`, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await read(alice, 'global', global.id)).status).toBe(200);
    expect((await read(alice, `user:${bob.id}`, dm.id)).status).toBe(200);
  });

  it('refuses malformed conversation ids and bodies with 400', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const dm = await sendMessage(api, bob, { content: 'x', recipient: alice.username });
    for (const conversation of [
      'dm:' + bob.id,
      'user:' + bob.username,
      'room:',
      'GLOBAL',
      'user:' + bob.id + ':x',
      encodeURIComponent('user:../..'),
    ]) {
      expect((await read(alice, conversation, dm.id)).status, conversation).toBe(400);
    }
    for (const json of [{}, { message_id: 'abc' }, { message_id: 7 }, []]) {
      const res = await api.fetch(`/api/conversations/user:${bob.id}/read`, { method: 'PUT', token: alice.token, json });
      expect(res.status, JSON.stringify(json)).toBe(400);
    }
  });
});

describe('GET /api/conversations/{id}/reads', () => {
  it("lists a room's members with their positions a page at a time, for members only", async () => {
    const [alice, bob, carol, dave] = await Promise.all([createUser(api), createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'readers');
    for (const u of [bob, carol]) await api.fetch(`/api/rooms/${room.id}/members/${u.id}`, { method: 'POST', token: alice.token });
    const m = await sendMessage(api, alice, { content: 'read me', room_id: room.id });
    expect((await read(bob, `room:${room.id}`, m.id)).status).toBe(200);

    const reads: Array<{ user_id: string; message_id: string | null }> = [];
    let after = '';
    for (;;) {
      const res = await api.fetch(`/api/conversations/room:${room.id}/reads?limit=2${after}`, { token: carol.token });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { reads: typeof reads; next_cursor: string | null };
      reads.push(...page.reads);
      if (page.next_cursor === null) break;
      after = `&after=${page.next_cursor}`;
    }
    expect(reads.map((r) => r.user_id)).toEqual([alice.id, bob.id, carol.id].sort());
    expect(reads.find((r) => r.user_id === bob.id)?.message_id).toBe(m.id);
    expect(reads.find((r) => r.user_id === alice.id)?.message_id).toBeNull();

    expect((await api.fetch(`/api/conversations/room:${room.id}/reads`, { token: dave.token })).status).toBe(403);
    expect((await api.fetch('/api/conversations/global/reads', { token: dave.token })).status).toBe(400);
  });

  it('lists both sides of a direct conversation, each as the reader names it', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const m = await sendMessage(api, bob, { content: 'seen?', recipient: alice.username });
    await read(alice, `user:${bob.id}`, m.id);
    const res = await api.fetch(`/api/conversations/user:${alice.id}/reads`, { token: bob.token });
    const page = (await res.json()) as { reads: Array<{ user_id: string; message_id: string | null }> };
    expect(page.reads).toHaveLength(2);
    expect(page.reads.find((r) => r.user_id === alice.id)?.message_id).toBe(m.id);
    expect(page.reads.find((r) => r.user_id === bob.id)?.message_id).toBeNull();
  });
});

describe('GET /api/rooms/{id}/presence', () => {
  it('answers members with who is online (no sockets here: nobody), others 403', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'presence');
    const res = await api.fetch(`/api/rooms/${room.id}/presence`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ room_id: room.id, online: [] });
    expect((await api.fetch(`/api/rooms/${room.id}/presence`, { token: bob.token })).status).toBe(403);
  });
});

describe('limits', () => {
  it('refuses read marks beyond READ_RATE_LIMIT with 429', async () => {
    const limited = await startApi({ READ_RATE_LIMIT: '3' });
    try {
      const [alice, bob] = await Promise.all([createUser(limited), createUser(limited)]);
      const m = await sendMessage(limited, bob, { content: 'x', recipient: alice.username });
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.fetch(`/api/conversations/user:${bob.id}/read`, { method: 'PUT', token: alice.token, json: { message_id: m.id } });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
