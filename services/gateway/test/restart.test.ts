import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, spawnGateway, type GatewayProcess, type TestGateway } from './harness.ts';

// The runner and compose restart a crashed gateway under the same GATEWAY_ID, so a
// new process must not inherit the presence its killed predecessor left in Redis.

const LEASE_MS = 2_000;
let api: TestApi;
const running: GatewayProcess[] = [];

beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  for (const proc of running) {
    proc.kill('SIGTERM');
    await proc.exited;
  }
  await api.close();
});

const connectedUsers = async (as: TestUser) => {
  const res = await api.fetch('/api/ws/users', { token: as.token });
  expect(res.status).toBe(200);
  return ((await res.json()) as { connected_users: string[] }).connected_users;
};

async function spawn(gatewayId: string): Promise<GatewayProcess> {
  const proc = await spawnGateway(api.config.redis.prefix, { GATEWAY_ID: gatewayId, PRESENCE_LEASE: `${LEASE_MS}ms` });
  running.push(proc);
  return proc;
}

describe('a gateway restarted under the same GATEWAY_ID after SIGKILL', () => {
  it("does not keep its predecessor's users online, and counts its own", async () => {
    const gatewayId = `restarted-${randomBytes(3).toString('hex')}`;
    const [wsUser, ioUser, returning, newcomer] = await Promise.all([createUser(api), createUser(api), createUser(api), createUser(api)]);

    const first = await spawn(gatewayId);
    const before = { url: first.url } as TestGateway;
    const clients = [await connectWs(before, wsUser.token), await connectIo(before, ioUser.token), await connectWs(before, returning.token)];
    const ghosts = [wsUser.username, ioUser.username, returning.username];
    await expect.poll(() => connectedUsers(newcomer), { timeout: 5_000 }).toEqual(expect.arrayContaining(ghosts));

    first.kill('SIGKILL');
    await first.exited;
    const second = await spawn(gatewayId);
    const after = { url: second.url } as TestGateway;
    const fresh = await connectIo(after, newcomer.token);
    // Back on the restarted gateway and gone again: one real connection opened and
    // closed, so nothing the killed process counted may keep this user online.
    const back = await connectWs(after, returning.token);
    back.ws.close();
    await back.closed;

    // Nothing cleaned up after the killed process, and the new one renews a lease
    // under the same GATEWAY_ID the whole time: only the dead instance's own lease
    // running out may remove its users. The deadline is that lease plus slack.
    const users = await vi.waitFor(
      async () => {
        const list = await connectedUsers(newcomer);
        expect(
          list.filter((u) => ghosts.includes(u)),
          'ghosts still listed',
        ).toEqual([]);
        return list;
      },
      { timeout: LEASE_MS + 5_000 },
    );
    expect(users).toContain(newcomer.username);

    fresh.socket.close();
    await expect.poll(() => connectedUsers(newcomer), { timeout: 5_000 }).not.toContain(newcomer.username);
    for (const client of clients) {
      if ('ws' in client) client.ws.terminate();
      else client.socket.close();
    }
  });
});
