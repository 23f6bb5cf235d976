import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
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
let ports: { api: number[]; gateway: number[] };
const prefix = uniquePrefix();
const logs: Array<{ name: string; line: string }> = [];
const BASE = 'http://127.0.0.1:8080';
const WS_BASE = 'ws://127.0.0.1:8080';

beforeAll(async () => {
  ({ cluster, ports } = await startE2eCluster({
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
    // The access log line follows the response (for a WebSocket, its close).
    await vi.waitFor(() => expect(ids.filter((id) => accessLines(id).length === 0)).toEqual([]), { timeout: 5_000, interval: 20 });
    if (ids.some((id) => accessLines(id).some((l) => l.upstream_status.includes('502')))) return;
    // A sleep on purpose: after a failure nginx sends nothing to the dead gateway
    // for fail_timeout (max_fails=1 fail_timeout=2s, scripts/cluster/cluster.ts),
    // and shows nowhere when that ends; the next round must come after it.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
  }
  throw new Error(`no ${tag} request reached the dead gateway`);
}

/**
 * Resolves once each running process has logged a line caused after everything
 * above: a request to each API replica directly and one through nginx (their
 * "request completed" and access lines, found by request id), and a new
 * connection to the surviving gateway ("client connected"). A process writes its
 * lines in order, so all it logged before is in `logs` by then.
 */
async function flushLogs(survivor: string): Promise<void> {
  const marker = `flush-${randomUUID()}`;
  const expected: Array<[name: string, text: string]> = [];
  for (const [i, port] of ports.api.entries()) {
    const id = `${marker}-api-${i + 1}`;
    expect((await fetch(`http://127.0.0.1:${port}/health`, { headers: { 'x-request-id': id } })).status).toBe(200);
    expected.push([`api-${i + 1}`, `"reqId":"${id}"`]);
  }
  const viaNginx = `${marker}-nginx`;
  expect((await fetch(`${BASE}/health`, { headers: { 'x-request-id': viaNginx } })).status).toBe(200);
  expected.push(['nginx', `"request_id":"${viaNginx}"`]);
  const witness = await login();
  const port = ports.gateway[Number(survivor.split('-')[1]) - 1] as number;
  (await openWs(`ws://127.0.0.1:${port}/api/ws/connect`, { authorization: `Bearer ${witness.token}` })).close();
  expected.push([survivor, witness.id]);
  await vi.waitFor(
    () => {
      for (const [name, text] of expected)
        expect(
          logs.some((l) => l.name === name && l.line.includes(text)),
          `${name} logged ${text}`,
        ).toBe(true);
    },
    { timeout: 10_000, interval: 50 },
  );
}

it('keeps query tokens out of every log line, nginx error log included, while a gateway is down', async () => {
  const user = await login();
  const signature = user.token.split('.')[2] as string;

  // A seed-style client with its token in the query, on some gateway.
  const victim = await openWs(`${WS_BASE}/api/ws/connect?token=${user.token}`);
  const gateway = await vi.waitFor(
    () => {
      const found = logs.findLast(({ name, line }) => name.startsWith('gateway') && line.includes('"client connected"') && line.includes(user.id));
      if (!found) throw new Error('no gateway logged the connection');
      return found.name;
    },
    { timeout: 5_000, interval: 50 },
  );
  const closed = new Promise((resolve) => victim.once('close', resolve));
  // Killed for good (stopOne: no restart), so that requests keep finding it dead.
  await cluster.stopOne(gateway, 'SIGKILL');
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

  // Every process still running has written what it had, then every line of every process is read.
  await flushLogs(gateway === 'gateway-1' ? 'gateway-2' : 'gateway-1');
  expect(logs.some(({ name }) => name.startsWith('api'))).toBe(true);
  const leaks = logs.filter(({ line }) => line.includes(user.token) || line.includes(signature));
  expect(leaks).toEqual([]);
}, 90_000);
