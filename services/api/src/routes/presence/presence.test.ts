import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { presenceKeys } from '@chat/shared/presence';
import { createUser, startApi, type TestApi } from '../../../test/harness.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

interface Connected {
  connected_users: string[];
  count: number;
  timestamp: string;
}

/** Writes what a gateway's presence writer would: its hash of user id -> connections, and its lease. */
const gateways: string[] = [];
async function simulateGateway(connections: Record<string, number>, leaseExpiresAt: number) {
  const keys = presenceKeys(api.config.redis.prefix);
  const id = `gw-${randomBytes(4).toString('hex')}`;
  gateways.push(id);
  const tx = api.resources.redis.multi();
  if (Object.keys(connections).length > 0) tx.hset(keys.gateway(id), connections);
  await tx.zadd(keys.gateways, leaseExpiresAt, id).exec();
  return id;
}

afterEach(async () => {
  const keys = presenceKeys(api.config.redis.prefix);
  const ids = gateways.splice(0);
  if (ids.length > 0)
    await api.resources.redis
      .multi()
      .del(...ids.map(keys.gateway))
      .zrem(keys.gateways, ...ids)
      .exec();
});

async function connected(token: string): Promise<Connected> {
  const res = await api.fetch('/api/ws/users', { token });
  expect(res.status).toBe(200);
  return (await res.json()) as Connected;
}

describe('GET /api/ws/users', () => {
  it('is empty when no gateway reports anyone', async () => {
    const me = await createUser(api);
    const body = await connected(me.token);
    expect(body).toEqual({ connected_users: [], count: 0, timestamp: expect.any(String) as string });
    expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(60_000);
  });

  it('lists users connected to any live gateway once, and ignores gateways whose lease ran out', async () => {
    const [me, alice, bob, carol, dave] = await Promise.all(Array.from({ length: 5 }, () => createUser(api)));
    const now = Date.now();
    await simulateGateway({ [alice!.id]: 1, [bob!.id]: 2 }, now + 60_000);
    await simulateGateway({ [bob!.id]: 1, [carol!.id]: 3 }, now + 60_000);
    await simulateGateway({ [dave!.id]: 1 }, now - 1_000);

    const body = await connected(me!.token);
    expect(body.connected_users).toEqual([alice!.username, bob!.username, carol!.username].sort());
    expect(body.count).toBe(3);

    const online = async (id: string) =>
      ((await (await api.fetch(`/api/users/${id}`, { token: me!.token })).json()) as { is_online: boolean }).is_online;
    expect(await online(alice!.id)).toBe(true);
    expect(await online(carol!.id)).toBe(true);
    expect(await online(dave!.id)).toBe(false);
    expect(await online(me!.id)).toBe(false);
  });

  it('does not count a user whose connection count dropped to zero', async () => {
    const [me, alice, bob] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    await simulateGateway({ [alice.id]: 0, [bob.id]: 1 }, Date.now() + 60_000);
    expect((await connected(me.token)).connected_users).toEqual([bob.username]);
  });

  it('ignores presence entries of users that no longer exist', async () => {
    const [me, alice] = await Promise.all([createUser(api), createUser(api)]);
    await simulateGateway({ [alice.id]: 1, [crypto.randomUUID()]: 1 }, Date.now() + 60_000);
    expect(await connected(me.token)).toMatchObject({ connected_users: [alice.username], count: 1 });
  });

  it('does not see presence written under another deployment prefix', async () => {
    const other = await startApi();
    try {
      const [me, alice] = await Promise.all([createUser(api), createUser(api)]);
      await simulateGateway({ [alice.id]: 1 }, Date.now() + 60_000);
      const elsewhere = await other.fetch('/api/ws/users', { token: me.token });
      expect(await elsewhere.json()).toMatchObject({ connected_users: [], count: 0 });
    } finally {
      await other.close();
    }
  });
});
