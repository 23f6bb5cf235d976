import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presenceKeys } from '@chat/shared/presence';
import { createRoom, createUser, startApi, type TestApi } from '../../../test/harness.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

interface UserView {
  id: string;
  username: string;
  email?: string;
  is_online: boolean;
  created_at: string;
}

interface UserList {
  users: UserView[];
  count: number;
  next_cursor: string | null;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function list(token: string, query: string): Promise<UserList> {
  const res = await api.fetch(`/api/users${query}`, { token });
  expect(res.status).toBe(200);
  return (await res.json()) as UserList;
}

describe('GET /api/users', () => {
  it('pages through users ordered by username with limit and an "after" cursor', async () => {
    const tag = `pg${randomBytes(4).toString('hex')}`;
    const [c, a, b] = await Promise.all(['c', 'A', 'b'].map((s) => createUser(api, { username: `${tag}_${s}` })));
    const first = await list(c!.token, `?after=${tag}&limit=2`);
    expect(first.users.map((u) => u.username)).toEqual([a!.username, b!.username]);
    expect(first.count).toBe(2);
    expect(first.next_cursor).toBe(b!.username);

    const second = await list(c!.token, `?after=${first.next_cursor}&limit=2`);
    expect(second.users[0]!.username).toBe(c!.username);
    // The cursor is case-insensitive like the ordering.
    const upper = await list(c!.token, `?after=${first.next_cursor!.toUpperCase()}&limit=1`);
    expect(upper.users[0]!.username).toBe(c!.username);
  });

  it('walks every user exactly once, in order, ending with a null cursor', async () => {
    const me = await createUser(api);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: UserList = await list(me.token, `?limit=100${cursor ? `&after=${cursor}` : ''}`);
      expect(page.count).toBe(page.users.length);
      seen.push(...page.users.map((u) => u.username));
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(seen.map((s) => s.toLowerCase())).size).toBe(seen.length);
    const lower = seen.map((s) => s.toLowerCase());
    expect(lower).toEqual([...lower].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(seen).toContain(me.username);
  });

  it("shows an email only in the caller's own record", async () => {
    const tag = `em${randomBytes(4).toString('hex')}`;
    const [me, other] = await Promise.all([createUser(api, { username: `${tag}_me` }), createUser(api, { username: `${tag}_other` })]);
    const page = await list(me.token, `?after=${tag}&limit=2`);
    expect(page.users).toEqual([
      { id: me.id, username: me.username, email: me.email, is_online: false, created_at: expect.stringMatching(ISO) as string },
      { id: other.id, username: other.username, is_online: false, created_at: expect.stringMatching(ISO) as string },
    ]);
    expect(JSON.stringify(page)).not.toMatch(/password/);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['after=has%20space', 'after'],
    ['after=x', 'after'],
  ])('refuses %s with 400', async (query, field) => {
    const me = await createUser(api);
    const res = await api.fetch(`/api/users?${query}`, { token: me.token });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'validation_failed', details: [{ field }] });
  });
});

describe('GET /api/users/:userId', () => {
  it('returns another user without their email, and the caller with theirs', async () => {
    const [me, other] = await Promise.all([createUser(api), createUser(api)]);
    const res = await api.fetch(`/api/users/${other.id}`, { token: me.token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: other.id, username: other.username, is_online: false, created_at: expect.stringMatching(ISO) as string });
    const self = await api.fetch(`/api/users/${me.id.toUpperCase()}`, { token: me.token });
    expect(await self.json()).toMatchObject({ id: me.id, email: me.email });
  });

  it('answers 400 for a malformed id and 404 for an unknown one', async () => {
    const me = await createUser(api);
    const bad = await api.fetch('/api/users/not-a-uuid', { token: me.token });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'validation_failed', details: [{ field: 'userId', message: 'userId must be a valid id' }] });
    const unknown = await api.fetch(`/api/users/${crypto.randomUUID()}`, { token: me.token });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'user not found', code: 'not_found' });
  });

  it('reports is_online from cluster presence', async () => {
    const [me, other] = await Promise.all([createUser(api), createUser(api)]);
    const keys = presenceKeys(api.config.redis.prefix);
    const gateway = `gw-${randomBytes(3).toString('hex')}`;
    await api.resources.redis
      .multi()
      .hset(keys.gateway(gateway), other.id, '1')
      .zadd(keys.gateways, Date.now() + 60_000, gateway)
      .exec();
    try {
      expect(await (await api.fetch(`/api/users/${other.id}`, { token: me.token })).json()).toMatchObject({ is_online: true });
      expect(await (await api.fetch(`/api/users/${me.id}`, { token: me.token })).json()).toMatchObject({ is_online: false });
      const page = await list(me.token, `?limit=1&after=${other.username.slice(0, -1)}`);
      expect(page.users).toContainEqual(expect.objectContaining({ id: other.id, is_online: true }));
    } finally {
      await api.resources.redis.multi().del(keys.gateway(gateway)).zrem(keys.gateways, gateway).exec();
    }
    expect(await (await api.fetch(`/api/users/${other.id}`, { token: me.token })).json()).toMatchObject({ is_online: false });
  });

  it('does not count a gateway whose lease ran out, nor a count of 0', async () => {
    const [me, stale, idle] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const keys = presenceKeys(api.config.redis.prefix);
    const dead = `gw-${randomBytes(3).toString('hex')}`;
    const live = `gw-${randomBytes(3).toString('hex')}`;
    await api.resources.redis
      .multi()
      .hset(keys.gateway(dead), stale.id, '1')
      .zadd(keys.gateways, Date.now() - 1, dead)
      .hset(keys.gateway(live), idle.id, '0')
      .zadd(keys.gateways, Date.now() + 60_000, live)
      .exec();
    try {
      for (const user of [stale, idle]) {
        expect(await (await api.fetch(`/api/users/${user.id}`, { token: me.token })).json()).toMatchObject({ is_online: false });
      }
    } finally {
      await api.resources.redis.multi().del(keys.gateway(dead), keys.gateway(live)).zrem(keys.gateways, dead, live).exec();
    }
  });
});

describe('GET /api/users/:userId/rooms', () => {
  it("lists the caller's own rooms with a count", async () => {
    const [me, other] = await Promise.all([createUser(api), createUser(api)]);
    const mine = await createRoom(api, me, 'mine');
    const theirs = await createRoom(api, other, 'theirs');
    await createRoom(api, other, 'not mine');
    expect((await api.fetch(`/api/rooms/${theirs.id}/members/${me.id}`, { method: 'POST', token: other.token })).status).toBe(201);

    const res = await api.fetch(`/api/users/${me.id}/rooms`, { token: me.token });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rooms: Array<{ id: string; name: string; joined_at: string }>; count: number };
    expect(body.count).toBe(2);
    expect(body.rooms.map((r) => r.id)).toEqual([mine.id, theirs.id]);
    expect(body.rooms[0]).toEqual({
      id: mine.id,
      name: 'mine',
      description: '',
      created_by: me.id,
      created_at: expect.stringMatching(ISO) as string,
      joined_at: expect.stringMatching(ISO) as string,
    });
  });

  it("refuses anyone else's list with 403 and a malformed id with 400", async () => {
    const [me, other] = await Promise.all([createUser(api), createUser(api)]);
    await createRoom(api, other, 'hidden');
    const res = await api.fetch(`/api/users/${other.id}/rooms`, { token: me.token });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'you can only list your own rooms', code: 'forbidden' });
    expect((await api.fetch(`/api/users/${crypto.randomUUID()}/rooms`, { token: me.token })).status).toBe(403);
    expect((await api.fetch('/api/users/nope/rooms', { token: me.token })).status).toBe(400);
  });
});

describe('GET /api/users/:userId/rooms, paginated', () => {
  type RoomPage = { rooms: Array<{ id: string }>; count: number; next_cursor: string | null };
  it('pages forward with after and backward with before, keeping {rooms, count} plus next_cursor', async () => {
    const me = await createUser(api);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createRoom(api, me, `r${i}`)).id);
    const get = async (query: string) => {
      const res = await api.fetch(`/api/users/${me.id}/rooms${query}`, { token: me.token });
      expect(res.status).toBe(200);
      return (await res.json()) as RoomPage;
    };
    const all = await get('');
    expect(all.rooms.map((r) => r.id)).toEqual(ids);
    expect(all).toMatchObject({ count: 5, next_cursor: null });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: RoomPage = await get(`?limit=2${cursor ? `&after=${cursor}` : ''}`);
      expect(page.count).toBe(page.rooms.length);
      seen.push(...page.rooms.map((r) => r.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);

    const back = await get(`?limit=2&before=${ids[4]}`);
    expect(back.rooms.map((r) => r.id)).toEqual([ids[2], ids[3]]);
    expect(back.next_cursor).toBe(ids[2]);
    const first = await get(`?limit=2&before=${back.next_cursor}`);
    expect(first.rooms.map((r) => r.id)).toEqual([ids[0], ids[1]]);
    // Nothing before the first room: the walk back ends with a null cursor.
    expect(first.next_cursor).toBeNull();
    expect(await get(`?limit=2&before=${ids[0]}`)).toEqual({ rooms: [], count: 0, next_cursor: null });
  });

  it('refuses a cursor that is not one of my rooms, both cursors at once and a bad limit with 400', async () => {
    const [me, other] = await Promise.all([createUser(api), createUser(api)]);
    const mine = await createRoom(api, me, 'mine');
    const theirs = await createRoom(api, other, 'theirs');
    for (const query of [
      `?after=${theirs.id}`,
      `?before=${crypto.randomUUID()}`,
      `?after=${mine.id}&before=${mine.id}`,
      '?limit=0',
      '?limit=101',
      '?after=nope',
    ]) {
      const res = await api.fetch(`/api/users/${me.id}/rooms${query}`, { token: me.token });
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'validation_failed' });
    }
  });
});
