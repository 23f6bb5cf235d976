import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '@chat/shared/model';
import { tapEvents, type EventTap } from '../../../test/events.ts';
import { createRoom, createUser, sendMessage, startApi, type TestApi, type TestUser } from '../../../test/harness.ts';

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

interface RoomDetails {
  id: string;
  name: string;
  description: string;
  created_by: string;
  created_at: string;
  members: Array<{ id: string; username: string; joined_at: string }>;
}

interface MessagePage {
  messages: ChatMessage[];
  next_cursor: string | null;
}

const members = (room: RoomDetails) => room.members.map((m) => m.username).sort();
const addMember = (by: TestUser, roomId: string, userId: string) =>
  api.fetch(`/api/rooms/${roomId}/members/${userId}`, { method: 'POST', token: by.token });
const removeMember = (by: TestUser, roomId: string, userId: string) =>
  api.fetch(`/api/rooms/${roomId}/members/${userId}`, { method: 'DELETE', token: by.token });

async function getRoom(user: TestUser, roomId: string): Promise<RoomDetails> {
  const res = await api.fetch(`/api/rooms/${roomId}`, { token: user.token });
  expect(res.status).toBe(200);
  return (await res.json()) as RoomDetails;
}

/** Every message id GET /api/messages shows the user, across all pages. */
async function visibleIds(user: TestUser): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const res = await api.fetch(`/api/messages?limit=100${cursor ? `&before=${cursor}` : ''}`, { token: user.token });
    const body = (await res.json()) as MessagePage;
    for (const m of body.messages) ids.add(m.id);
    cursor = body.next_cursor;
  } while (cursor);
  return ids;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('POST /api/rooms', () => {
  it('creates the room with its creator as the only member and announces the join', async () => {
    const alice = await createUser(api);
    const res = await api.fetch('/api/rooms', { method: 'POST', token: alice.token, json: { name: '  Book club  ', description: 'Monthly reads' } });
    expect(res.status).toBe(201);
    const room = (await res.json()) as RoomDetails;
    expect(room).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
      name: 'Book club',
      description: 'Monthly reads',
      created_by: alice.id,
      created_at: expect.stringMatching(ISO) as string,
      members: [{ id: alice.id, username: alice.username, joined_at: expect.stringMatching(ISO) as string }],
    });
    expect(await tap.next('membership', (m) => m.roomId === room.id)).toEqual({
      action: 'join',
      userId: alice.id,
      roomId: room.id,
      logHead: expect.any(Number) as number,
    });
  });

  it('defaults the description to empty and keeps unusual names verbatim', async () => {
    const alice = await createUser(api);
    for (const name of ['😀 émoji', "'; drop table rooms; --", '<b>bold</b>', 'x'.repeat(100)]) {
      const res = await api.fetch('/api/rooms', { method: 'POST', token: alice.token, json: { name } });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ name, description: '' });
    }
  });

  it.each([
    ['no name', {}, 'name'],
    ['an empty name', { name: '' }, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['a name over 100 characters', { name: 'x'.repeat(101) }, 'name'],
    ['a name that is not a string', { name: ['room'] }, 'name'],
    ['a name with NUL', { name: 'a\u0000b' }, 'name'],
    ['a name with a lone surrogate', { name: 'a\ud800' }, 'name'],
    ['a description over 1000 characters', { name: 'ok', description: 'd'.repeat(1001) }, 'description'],
    ['a description that is not a string', { name: 'ok', description: 5 }, 'description'],
  ])('refuses %s with 400', async (_name, body, field) => {
    const alice = await createUser(api);
    const res = await api.fetch('/api/rooms', { method: 'POST', token: alice.token, json: body });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; code: string; details: Array<{ field: string }> };
    expect(json).toMatchObject({ error: 'invalid request body', code: 'validation_failed' });
    expect(json.details.map((d) => d.field)).toContain(field);
  });
});

describe('GET /api/rooms/:roomId', () => {
  it('shows the room and its members to a member', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'details');
    expect((await addMember(alice, room.id, bob.id)).status).toBe(201);
    const seen = await getRoom(bob, room.id);
    expect(seen).toMatchObject({ id: room.id, name: 'details', created_by: alice.id });
    expect(members(seen)).toEqual([alice.username, bob.username].sort());
    expect((await getRoom(alice, room.id.toUpperCase())).id).toBe(room.id);
  });

  it('refuses a non-member with 403, answers 404 for an unknown room and 400 for a bad id', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'secret');
    const outsider = await api.fetch(`/api/rooms/${room.id}`, { token: bob.token });
    expect(outsider.status).toBe(403);
    expect(await outsider.json()).toEqual({ error: 'you are not a member of this room', code: 'forbidden' });
    const unknown = await api.fetch(`/api/rooms/${crypto.randomUUID()}`, { token: bob.token });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'room not found', code: 'not_found' });
    const bad = await api.fetch('/api/rooms/not-an-id', { token: bob.token });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'validation_failed', details: [{ field: 'roomId', message: 'roomId must be a valid id' }] });
  });
});

describe('GET /api/rooms/:roomId/messages', () => {
  it('pages through exactly the room messages, newest first, each once', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'history');
    const other = await createRoom(api, alice, 'elsewhere');
    expect((await addMember(alice, room.id, bob.id)).status).toBe(201);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await sendMessage(api, i % 2 ? bob : alice, { content: `m${i}`, room_id: room.id })).id);
    await sendMessage(api, alice, { content: 'not here', room_id: other.id });
    await sendMessage(api, alice, { content: 'global, not here' });

    const expected = [...sent].reverse();
    const pages: MessagePage[] = [];
    let cursor: string | null = null;
    do {
      const res = await api.fetch(`/api/rooms/${room.id}/messages?limit=2${cursor ? `&before=${cursor}` : ''}`, { token: bob.token });
      expect(res.status).toBe(200);
      const body = (await res.json()) as MessagePage;
      pages.push(body);
      cursor = body.next_cursor;
    } while (cursor);
    expect(pages.map((p) => p.messages.map((m) => m.id))).toEqual([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4)]);
    expect(pages.map((p) => p.next_cursor)).toEqual([expected[1], expected[3], null]);
    expect(pages[0]!.messages[0]).toMatchObject({ content: 'm4', sender: alice.username, room_id: room.id, recipient: null });

    const whole = await api.fetch(`/api/rooms/${room.id}/messages`, { token: alice.token });
    expect(((await whole.json()) as MessagePage).messages.map((m) => m.id)).toEqual(expected);
  });

  it('refuses non-members (403), unknown rooms (404) and bad ids or queries (400)', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'members only');
    await sendMessage(api, alice, { content: 'secret', room_id: room.id });
    expect((await api.fetch(`/api/rooms/${room.id}/messages`, { token: bob.token })).status).toBe(403);
    expect((await api.fetch(`/api/rooms/${crypto.randomUUID()}/messages`, { token: bob.token })).status).toBe(404);
    for (const path of [
      '/api/rooms/nope/messages',
      `/api/rooms/${room.id}/messages?limit=0`,
      `/api/rooms/${room.id}/messages?limit=101`,
      `/api/rooms/${room.id}/messages?limit=abc`,
      `/api/rooms/${room.id}/messages?before=abc`,
      `/api/rooms/${room.id}/messages?before=${crypto.randomUUID()}`,
    ]) {
      const res = await api.fetch(path, { token: alice.token });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'validation_failed' });
    }
  });
});

describe('POST /api/rooms/:roomId/members/:userId', () => {
  it('lets a member add someone (201), reports an existing member with 200, and announces only the first', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'growing');
    const first = await addMember(alice, room.id, bob.id);
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ room_id: room.id, user_id: bob.id, added: true });
    expect(await tap.next('membership', (m) => m.roomId === room.id && m.userId === bob.id)).toEqual({
      action: 'join',
      userId: bob.id,
      roomId: room.id,
      logHead: expect.any(Number) as number,
    });

    const again = await addMember(alice, room.id, bob.id.toUpperCase());
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ room_id: room.id, user_id: bob.id, added: false });

    // Any member may add, not only the creator; the new member can read and write at once.
    expect((await addMember(bob, room.id, carol.id)).status).toBe(201);
    await tap.next('membership', (m) => m.roomId === room.id && m.userId === carol.id);
    expect(members(await getRoom(carol, room.id))).toEqual([alice.username, bob.username, carol.username].sort());
    expect((await api.fetch('/api/messages', { method: 'POST', token: carol.token, json: { content: 'hi', room_id: room.id } })).status).toBe(201);

    const joins = tap.events.filter((e) => e.name === 'membership' && e.payload.roomId === room.id && e.payload.userId === bob.id);
    expect(joins).toHaveLength(1);
  });

  it('refuses non-members (403), unknown users or rooms (404) and bad ids (400)', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'guarded');
    const outsider = await addMember(bob, room.id, carol.id);
    expect(outsider.status).toBe(403);
    expect(await outsider.json()).toEqual({ error: 'you are not a member of this room', code: 'forbidden' });
    expect((await addMember(bob, room.id, bob.id)).status).toBe(403);

    const unknownUser = await addMember(alice, room.id, crypto.randomUUID());
    expect(unknownUser.status).toBe(404);
    expect(await unknownUser.json()).toEqual({ error: 'user not found', code: 'not_found' });
    expect((await addMember(alice, crypto.randomUUID(), bob.id)).status).toBe(404);

    for (const [roomId, userId, field] of [
      ['x', bob.id, 'roomId'],
      [room.id, bob.username, 'userId'],
    ] as const) {
      const res = await addMember(alice, roomId, userId);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'validation_failed', details: [{ field }] });
    }
    expect(members(await getRoom(alice, room.id))).toEqual([alice.username]);
  });
});

describe('DELETE /api/rooms/:roomId/members/:userId', () => {
  it('lets a member leave, announces it, and cuts their access at once', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'leaving');
    expect((await addMember(alice, room.id, bob.id)).status).toBe(201);
    const before = await sendMessage(api, alice, { content: 'while bob is here', room_id: room.id });
    expect((await api.fetch(`/api/rooms/${room.id}/messages`, { token: bob.token })).status).toBe(200);
    expect(await visibleIds(bob)).toContain(before.id);

    const res = await removeMember(bob, room.id, bob.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ room_id: room.id, user_id: bob.id, removed: true });
    expect(await tap.next('membership', (m) => m.roomId === room.id && m.action === 'leave')).toEqual({
      action: 'leave',
      userId: bob.id,
      roomId: room.id,
    });

    expect((await api.fetch(`/api/rooms/${room.id}`, { token: bob.token })).status).toBe(403);
    expect((await api.fetch(`/api/rooms/${room.id}/messages`, { token: bob.token })).status).toBe(403);
    expect((await api.fetch('/api/messages', { method: 'POST', token: bob.token, json: { content: 'still here?', room_id: room.id } })).status).toBe(
      403,
    );
    expect((await addMember(bob, room.id, bob.id)).status).toBe(403);
    expect(await visibleIds(bob)).not.toContain(before.id);
    const bobsRooms = await api.fetch(`/api/users/${bob.id}/rooms`, { token: bob.token });
    expect(await bobsRooms.json()).toEqual({ rooms: [], count: 0, next_cursor: null });
    expect(members(await getRoom(alice, room.id))).toEqual([alice.username]);
  });

  it('lets the creator remove anyone, and refuses other members removing others with 403', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'moderated');
    for (const u of [bob, carol]) expect((await addMember(alice, room.id, u.id)).status).toBe(201);

    const refused = await removeMember(bob, room.id, carol.id);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'only the room creator can remove other members', code: 'forbidden' });
    expect((await removeMember(bob, room.id, alice.id)).status).toBe(403);

    expect((await removeMember(alice, room.id, carol.id)).status).toBe(200);
    expect((await api.fetch(`/api/rooms/${room.id}`, { token: carol.token })).status).toBe(403);
    expect(members(await getRoom(bob, room.id))).toEqual([alice.username, bob.username].sort());
  });

  it('answers 404 for a target who is not a member or a room that does not exist, and 400 for bad ids', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'sparse');
    const notMember = await removeMember(alice, room.id, bob.id);
    expect(notMember.status).toBe(404);
    expect(await notMember.json()).toEqual({ error: 'membership not found', code: 'not_found' });
    expect((await removeMember(bob, room.id, bob.id)).status).toBe(404);
    expect((await removeMember(alice, room.id, crypto.randomUUID())).status).toBe(404);
    expect((await removeMember(alice, crypto.randomUUID(), alice.id)).status).toBe(404);
    expect((await removeMember(alice, 'bad', alice.id)).status).toBe(400);
    expect((await removeMember(alice, room.id, 'bad')).status).toBe(400);
  });

  it('publishes nothing for a refused change', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'quiet');
    expect((await addMember(alice, room.id, bob.id)).status).toBe(201);
    await tap.next('membership', (m) => m.roomId === room.id && m.userId === bob.id);
    const mark = tap.events.length;
    expect((await addMember(carol, room.id, carol.id)).status).toBe(403);
    expect((await removeMember(bob, room.id, alice.id)).status).toBe(403);
    expect((await removeMember(alice, room.id, carol.id)).status).toBe(404);
    expect((await addMember(alice, room.id, bob.id)).status).toBe(200);
    // Events leave in order on one connection: the marker closes the window.
    expect((await removeMember(bob, room.id, bob.id)).status).toBe(200);
    await tap.next('membership', (m) => m.roomId === room.id && m.action === 'leave');
    const since = tap.events.slice(mark).filter((e) => e.name === 'membership' && e.payload.roomId === room.id);
    expect(since).toEqual([{ name: 'membership', payload: { action: 'leave', userId: bob.id, roomId: room.id } }]);
  });
});

describe('membership changes only by current members', () => {
  it('a creator who left can no longer remove (or add) members', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'left behind');
    for (const u of [bob, carol]) expect((await addMember(alice, room.id, u.id)).status).toBe(201);
    expect((await removeMember(alice, room.id, alice.id)).status).toBe(200);

    const refused = await removeMember(alice, room.id, bob.id);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'you are not a member of this room', code: 'forbidden' });
    expect((await addMember(alice, room.id, alice.id)).status).toBe(403);
    expect(members(await getRoom(bob, room.id))).toEqual([bob.username, carol.username].sort());
  });
});

describe('caps on rooms per user and members per room', () => {
  it('refuses a room past MAX_ROOMS_PER_USER and a member past MAX_MEMBERS_PER_ROOM with 409 conflict', async () => {
    const capped = await startApi({ MAX_ROOMS_PER_USER: '2', MAX_MEMBERS_PER_ROOM: '3' });
    try {
      const [alice, bob, carol, dave] = await Promise.all([createUser(capped), createUser(capped), createUser(capped), createUser(capped)]);
      const first = await createRoom(capped, alice, 'one');
      await createRoom(capped, alice, 'two');
      const third = await capped.fetch('/api/rooms', { method: 'POST', token: alice.token, json: { name: 'three' } });
      expect(third.status).toBe(409);
      expect(await third.json()).toEqual({ error: 'you are already in the maximum of 2 rooms', code: 'conflict' });

      // Bob is in two rooms of his own: being added to a third is refused.
      await createRoom(capped, bob, 'b1');
      await createRoom(capped, bob, 'b2');
      const full = await capped.fetch(`/api/rooms/${first.id}/members/${bob.id}`, { method: 'POST', token: alice.token });
      expect(full.status).toBe(409);
      expect(await full.json()).toEqual({ error: 'the user is already in the maximum of 2 rooms', code: 'conflict' });

      // Members: alice + carol + dave = 3, then nobody more, even concurrently.
      const adds = await Promise.all(
        [carol, dave].map((u) => capped.fetch(`/api/rooms/${first.id}/members/${u.id}`, { method: 'POST', token: alice.token })),
      );
      expect(adds.map((r) => r.status)).toEqual([201, 201]);
      const extra = await createUser(capped);
      const crowded = await capped.fetch(`/api/rooms/${first.id}/members/${extra.id}`, { method: 'POST', token: alice.token });
      expect(crowded.status).toBe(409);
      expect(await crowded.json()).toEqual({ error: 'the room already has the maximum of 3 members', code: 'conflict' });
      // Re-adding an existing member is still a harmless 200.
      expect((await capped.fetch(`/api/rooms/${first.id}/members/${carol.id}`, { method: 'POST', token: alice.token })).status).toBe(200);
    } finally {
      await capped.close();
    }
  });

  it('holds under concurrency: 10 parallel additions to a room capped at 4 add exactly 3', async () => {
    const capped = await startApi({ MAX_MEMBERS_PER_ROOM: '4' });
    try {
      const owner = await createUser(capped);
      const room = await createRoom(capped, owner, 'race');
      const others = await Promise.all(Array.from({ length: 10 }, () => createUser(capped)));
      const results = await Promise.all(
        others.map((u) => capped.fetch(`/api/rooms/${room.id}/members/${u.id}`, { method: 'POST', token: owner.token })),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(3);
      expect(results.filter((r) => r.status === 409)).toHaveLength(7);
      const details = (await (await capped.fetch(`/api/rooms/${room.id}`, { token: owner.token })).json()) as RoomDetails;
      expect(details.members).toHaveLength(4);
    } finally {
      await capped.close();
    }
  });
});

describe('a before cursor the caller may not see', () => {
  it('is answered exactly like an unknown id, on every message listing', async () => {
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'secret');
    const hidden = await sendMessage(api, alice, { content: 'room only', room_id: room.id });
    const dm = await sendMessage(api, alice, { content: 'to carol only', recipient: carol.username });
    const bobsRoom = await createRoom(api, bob, 'bobs');
    for (const cursor of [hidden.id, dm.id]) {
      for (const path of ['/api/messages', `/api/messages/between/${bob.username}/${alice.username}`, `/api/rooms/${bobsRoom.id}/messages`]) {
        const unknown = await api.fetch(`${path}?before=${crypto.randomUUID()}`, { token: bob.token });
        const unseen = await api.fetch(`${path}?before=${cursor}`, { token: bob.token });
        expect(unseen.status).toBe(unknown.status);
        expect(unseen.status).toBe(400);
        expect(await unseen.json()).toEqual(await unknown.json());
      }
    }
    // The author still pages with it.
    expect((await api.fetch(`/api/rooms/${room.id}/messages?before=${hidden.id}`, { token: alice.token })).status).toBe(200);
  });
});
