import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { deletePrefix, uniquePrefix } from '@chat/shared/testing';
import type { RunningCluster } from '../scripts/cluster/cluster.ts';
import { startE2eCluster } from './fixture.ts';

// No token reaches any log line (issue 9). The dangerous moment is a gateway
// going down under clients that put their token in the query (the seed's
// `/api/ws/connect?token=`): nginx's error log prints the whole request line of
// every request it cannot proxy. nginx.conf routes such requests to locations
// without an error log (see `$query_may_carry_token` there); this proves it, and
// that the error log still reports the dead gateway for everyone else.

let cluster: RunningCluster;
const prefix = uniquePrefix();
const logs: Array<{ name: string; line: string }> = [];
const BASE = 'http://127.0.0.1:8080';
const WS_BASE = 'ws://127.0.0.1:8080';

beforeAll(async () => {
  ({ cluster } = await startE2eCluster({
    prefix,
    // Everything the services can say, so that nothing hides below the level.
    // One user opens up to 16 sockets per round until a round meets the dead
    // gateway: the per-user connect limit (60 a minute) would refuse the fourth round.
    env: { LOG_LEVEL: 'trace', CONNECT_USER_LIMIT: '0' },
    output: (name, line) => logs.push({ name, line }),
  }));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await deletePrefix(prefix);
});

async function login(): Promise<{ id: string; token: string }> {
  const username = `logs_${randomUUID().slice(0, 8)}`;
  const post = (p: string, body: object) => fetch(`${BASE}${p}`, { method: 'POST', body: JSON.stringify(body) });
  expect((await post('/api/auth/register', { username, email: `${username}@example.com`, password: 'password123' })).status).toBe(201);
  const session = (await (await post('/api/auth/login', { username, password: 'password123' })).json()) as { token: string; user: { id: string } };
  return { id: session.user.id, token: session.token };
}

/** Opens a plain WebSocket through nginx and resolves with it once the gateway greeted it. */
function openWs(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** The access log lines (nginx's stdout, JSON) with this request id. */
const accessLines = (requestId: string) =>
  logs
    .filter(({ name, line }) => name === 'nginx' && line.startsWith('{') && line.includes(`"request_id":"${requestId}"`))
    .map(({ line }) => JSON.parse(line) as { upstream_status: string; status: number });

/** Sends batches of requests until one of them was refused by the dead gateway (upstream_status has a 502) and recovered on the other. */
async function hitDeadGateway(tag: string, request: (requestId: string) => Promise<void>): Promise<void> {
  for (let round = 0; round < 8; round++) {
    const ids = Array.from({ length: 8 }, (_, i) => `${tag}-${round}-${i}`);
    for (const id of ids) await request(id);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the access log line follows the response
    if (ids.some((id) => accessLines(id).some((l) => l.upstream_status.includes('502')))) return;
    // max_fails=1 fail_timeout=2s: the dead gateway is tried again once this has passed.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
  }
  throw new Error(`no ${tag} request reached the dead gateway`);
}

it('keeps query tokens out of every log line, nginx error log included, while a gateway is down', async () => {
  const user = await login();
  const signature = user.token.split('.')[2] as string;

  // A seed-style client with its token in the query, on some gateway.
  const victim = await openWs(`${WS_BASE}/api/ws/connect?token=${user.token}`);
  let gateway: string | undefined;
  for (let i = 0; i < 100 && !gateway; i++) {
    gateway = logs.findLast(({ name, line }) => name.startsWith('gateway') && line.includes('"client connected"') && line.includes(user.id))?.name;
    if (!gateway) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(gateway).toBeDefined();
  const closed = new Promise((resolve) => victim.once('close', resolve));
  // Killed for good (stopOne: no restart), so that requests keep finding it dead.
  await cluster.stopOne(gateway as string, 'SIGKILL');
  await closed;

  // Requests with the token in the query meet the dead gateway: plain WebSocket
  // upgrades (spread at random) and Socket.IO polling handshakes (sticky on client_id).
  await hitDeadGateway('query-token', async (id) => {
    const ws = await openWs(`${WS_BASE}/api/ws/connect?token=${user.token}`, { 'x-request-id': id });
    ws.close();
    const res = await fetch(`${BASE}/socket.io/?EIO=4&transport=polling&client_id=${randomUUID()}&token=${user.token}`, {
      headers: { 'x-request-id': `${id}-io` },
    });
    expect(res.status).toBe(200);
    await res.text();
  });

  // The same without a token in the URL: nginx's error log reports the dead gateway.
  await hitDeadGateway('header-token', async (id) => {
    const ws = await openWs(`${WS_BASE}/api/ws/connect`, { authorization: `Bearer ${user.token}`, 'x-request-id': id });
    ws.close();
  });
  await expect
    .poll(() => logs.some(({ name, line }) => name === 'nginx' && /connect\(\) failed .* while connecting to upstream/.test(line)), {
      timeout: 5_000,
    })
    .toBe(true);

  // Let every process write what it has, then read every line of every process.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(logs.some(({ name }) => name.startsWith('api'))).toBe(true);
  const leaks = logs.filter(({ line }) => line.includes(user.token) || line.includes(signature));
  expect(leaks).toEqual([]);
}, 90_000);
