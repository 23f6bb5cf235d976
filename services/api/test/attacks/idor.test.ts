import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../harness.ts';
import { expectRefused } from './helpers.ts';

// Attack suite, REST: reaching other people's data by naming it (IDOR), and
// speaking as someone else (docs/security.md). Mallory is a valid user who
// belongs to nothing of Alice's and Bob's.

let api: TestApi;
let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;
let room: { id: string };
let secretDm: { id: string };
let secretRoom: { id: string };
beforeAll(async () => {
  api = await startApi();
  await api.resources.redis.ping(); // the rate limiters refuse requests until Redis is ready
  [alice, bob, mallory] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
  room = await createRoom(api, alice, 'private');
  expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
  secretDm = await sendMessage(api, alice, { content: 'secret dm', recipient: bob.username });
  secretRoom = await sendMessage(api, alice, { content: 'secret room', room_id: room.id });
});
afterAll(async () => api.close());

const members = async () =>
  ((await (await api.fetch(`/api/rooms/${room.id}`, { token: alice.token })).json()) as { members: Array<{ id: string }> }).members
    .map((m) => m.id)
    .sort();

describe('IDOR over REST', () => {
  it.each([
    ['by usernames', () => [alice.username, bob.username]],
    ['by ids', () => [alice.id, bob.id]],
    ['in the other order', () => [bob.username, alice.username]],
  ])("refuses another pair's direct conversation (between/{u1}/{u2}) %s with 403", async (_name, pair) => {
    const [u1, u2] = pair() as [string, string];
    await expectRefused(await api.fetch(`/api/messages/between/${u1}/${u2}`, { token: mallory.token }), 403, 'forbidden');
  });

  it("refuses a room's details to a non-member", async () => {
    await expectRefused(await api.fetch(`/api/rooms/${room.id}`, { token: mallory.token }), 403, 'forbidden');
  });

  it("refuses a room's messages to a non-member", async () => {
    await expectRefused(await api.fetch(`/api/rooms/${room.id}/messages`, { token: mallory.token }), 403, 'forbidden');
  });

  it('refuses sending into a room to a non-member', async () => {
    const res = await api.fetch('/api/messages', { method: 'POST', token: mallory.token, json: { content: 'let me in', room_id: room.id } });
    await expectRefused(res, 403, 'forbidden');
  });

  it('refuses a non-member adding themself to a room', async () => {
    await expectRefused(await api.fetch(`/api/rooms/${room.id}/members/${mallory.id}`, { method: 'POST', token: mallory.token }), 403, 'forbidden');
    expect(await members()).toEqual([alice.id, bob.id].sort());
  });

  it('refuses a non-member adding someone else to a room', async () => {
    const accomplice = await createUser(api);
    await expectRefused(
      await api.fetch(`/api/rooms/${room.id}/members/${accomplice.id}`, { method: 'POST', token: mallory.token }),
      403,
      'forbidden',
    );
    expect(await members()).toEqual([alice.id, bob.id].sort());
  });

  it('refuses a non-member removing a member', async () => {
    await expectRefused(await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'DELETE', token: mallory.token }), 403, 'forbidden');
    expect(await members()).toEqual([alice.id, bob.id].sort());
  });

  it('refuses a member who is not the creator removing another member (the creator included)', async () => {
    await expectRefused(await api.fetch(`/api/rooms/${room.id}/members/${alice.id}`, { method: 'DELETE', token: bob.token }), 403, 'forbidden');
    expect(await members()).toEqual([alice.id, bob.id].sort());
  });

  it("refuses another user's room list", async () => {
    await expectRefused(await api.fetch(`/api/users/${alice.id}/rooms`, { token: mallory.token }), 403, 'forbidden');
  });

  it("never shows another user's email, in their record or in the list", async () => {
    const one = (await (await api.fetch(`/api/users/${alice.id}`, { token: mallory.token })).json()) as Record<string, unknown>;
    expect(one.username).toBe(alice.username);
    expect(one).not.toHaveProperty('email');
    const list = await (await api.fetch('/api/users?limit=100', { token: mallory.token })).text();
    expect(list).not.toContain(alice.email);
    expect(list).not.toContain(bob.email);
    expect(list).not.toMatch(/password/);
  });

  it("leaves other people's direct and room messages out of a user's feed", async () => {
    const feed = await (await api.fetch('/api/messages?limit=100', { token: mallory.token })).text();
    expect(feed).not.toContain('secret dm');
    expect(feed).not.toContain('secret room');
  });

  it('cuts a removed member off the room at once', async () => {
    const carol = await createUser(api);
    expect((await api.fetch(`/api/rooms/${room.id}/members/${carol.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
    expect((await api.fetch(`/api/rooms/${room.id}/members/${carol.id}`, { method: 'DELETE', token: alice.token })).status).toBe(200);
    await expectRefused(await api.fetch(`/api/rooms/${room.id}/messages`, { token: carol.token }), 403, 'forbidden');
    await expectRefused(
      await api.fetch('/api/messages', { method: 'POST', token: carol.token, json: { content: 'still here', room_id: room.id } }),
      403,
      'forbidden',
    );
  });

  it("does not hand out another sender's message for a reused Idempotency-Key", async () => {
    const key = `shared-key-${Date.now()}`;
    const first = await api.fetch('/api/messages', {
      method: 'POST',
      token: alice.token,
      headers: { 'idempotency-key': key },
      json: { content: 'alice says', recipient: bob.username },
    });
    expect(first.status).toBe(201);
    const second = await api.fetch('/api/messages', {
      method: 'POST',
      token: mallory.token,
      headers: { 'idempotency-key': key },
      json: { content: 'mallory says' },
    });
    expect(second.status).toBe(201);
    const body = (await second.json()) as { sender: string; content: string };
    expect(body).toMatchObject({ sender: mallory.username, content: 'mallory says' });
  });
});

describe('sender spoofing over REST', () => {
  it.each([
    ['by username', () => bob.username],
    ['by id', () => bob.id],
    ['in another case', () => bob.username.toUpperCase()],
  ])('refuses a sender naming someone else (%s) with 403 and stores nothing', async (_name, sender) => {
    const content = `spoofed ${Math.random()}`;
    const res = await api.fetch('/api/messages', { method: 'POST', token: mallory.token, json: { content, sender: sender() } });
    await expectRefused(res, 403, 'forbidden');
    const feed = await (await api.fetch('/api/messages?limit=100', { token: bob.token })).text();
    expect(feed).not.toContain(content);
  });

  it('stores a message as the caller whatever sender_id or user fields it carries', async () => {
    const res = await api.fetch('/api/messages', {
      method: 'POST',
      token: mallory.token,
      json: { content: 'who am i', sender_id: bob.id, user_id: bob.id, username: bob.username },
    });
    expect(res.status).toBeLessThan(500);
    if (res.status === 201) expect(((await res.json()) as { sender: string }).sender).toBe(mallory.username);
    else await expectRefused(res, res.status);
  });
});

describe("changing other people's messages over REST", () => {
  const change = (as: TestUser, id: string, method: 'PATCH' | 'DELETE') =>
    api.fetch(`/api/messages/${id}`, { method, token: as.token, ...(method === 'PATCH' ? { json: { content: 'defaced' } } : {}) });
  /** The message as its rightful readers see it, unchanged. */
  const intact = async (id: string, content: string) => {
    const feed = (await (await api.fetch('/api/messages?limit=100', { token: alice.token })).json()) as {
      messages: Array<{ id: string; content: string; edited_at: string | null; deleted_at: string | null }>;
    };
    expect(feed.messages.find((m) => m.id === id)).toMatchObject({ content, edited_at: null, deleted_at: null });
  };

  it.each(['PATCH', 'DELETE'] as const)('answers %s of a direct message between others 404, as if it did not exist', async (method) => {
    await expectRefused(await change(mallory, secretDm.id, method), 404, 'not_found');
    await intact(secretDm.id, 'secret dm');
  });

  it.each(['PATCH', 'DELETE'] as const)('answers %s of a message in a room one is not in 404', async (method) => {
    await expectRefused(await change(mallory, secretRoom.id, method), 404, 'not_found');
    await intact(secretRoom.id, 'secret room');
  });

  it("refuses editing a message one can see but did not send (403), and a member deleting another member's room message", async () => {
    const global = await sendMessage(api, alice, { content: 'global, mine' });
    await expectRefused(await change(mallory, global.id, 'PATCH'), 403, 'forbidden');
    await expectRefused(await change(mallory, global.id, 'DELETE'), 403, 'forbidden');
    await intact(global.id, 'global, mine');
    // Bob is a member of Alice's room, not its creator.
    await expectRefused(await change(bob, secretRoom.id, 'PATCH'), 403, 'forbidden');
    await expectRefused(await change(bob, secretRoom.id, 'DELETE'), 403, 'forbidden');
    await intact(secretRoom.id, 'secret room');
  });
});

describe("other people's read state over REST", () => {
  const markRead = (as: TestUser, conversation: string, json: unknown) =>
    api.fetch(`/api/conversations/${conversation}/read`, { method: 'PUT', token: as.token, json });
  const readsOf = async (as: TestUser, conversation: string) =>
    (
      (await (await api.fetch(`/api/conversations/${conversation}/reads`, { token: as.token })).json()) as {
        reads: Array<{ user_id: string; message_id: string | null }>;
      }
    ).reads;

  it('refuses the read positions of a room one is not in (403), and of no such room (404)', async () => {
    await expectRefused(await api.fetch(`/api/conversations/room:${room.id}/reads`, { token: mallory.token }), 403, 'forbidden');
    await expectRefused(await api.fetch(`/api/conversations/room:${alice.id}/reads`, { token: mallory.token }), 404, 'not_found');
  });

  it("shows only the two sides of one's own direct conversation, never another pair's positions", async () => {
    expect((await markRead(bob, `user:${alice.id}`, { message_id: secretDm.id })).status).toBe(200);
    // Mallory names Alice: that is Mallory's conversation with her, where Alice has read nothing.
    const reads = await readsOf(mallory, `user:${alice.id}`);
    expect(reads.map((r) => r.user_id).sort()).toEqual([alice.id, mallory.id].sort());
    expect(reads.every((r) => r.message_id === null)).toBe(true);
  });

  it('refuses marking with a message of another conversation, whichever id names it (404), and a room one is not in (403)', async () => {
    // Another pair's message under Mallory's conversation with Alice, under a room id made of a user id, and the reverse.
    await expectRefused(await markRead(mallory, `user:${alice.id}`, { message_id: secretDm.id }), 404, 'not_found');
    await expectRefused(await markRead(mallory, `room:${alice.id}`, { message_id: secretDm.id }), 404, 'not_found');
    await expectRefused(await markRead(mallory, `user:${room.id}`, { message_id: secretRoom.id }), 404, 'not_found');
    await expectRefused(await markRead(mallory, `room:${room.id}`, { message_id: secretRoom.id }), 403, 'forbidden');
    await expectRefused(await markRead(mallory, 'global', { message_id: secretRoom.id }), 404, 'not_found');
    // Nothing was stored for Mallory by any of them.
    const stored = await api.resources.db.selectFrom('conversation_reads').select('conversation').where('user_id', '=', mallory.id).execute();
    expect(stored).toEqual([]);
  });

  it('cannot mark for someone else: a receipt names the caller whatever the body says', async () => {
    const dm = await sendMessage(api, bob, { content: 'to mallory', recipient: mallory.username });
    const res = await markRead(mallory, `user:${bob.id}`, { message_id: dm.id, user: alice.id, user_id: alice.id, conversation: `user:${bob.id}` });
    expect(res.status).toBe(200);
    const rows = await api.resources.db
      .selectFrom('conversation_reads')
      .select(['user_id', 'conversation'])
      .where('message_id', '=', dm.id)
      .execute();
    expect(rows).toEqual([{ user_id: mallory.id, conversation: `user:${bob.id}` }]);
  });
});
