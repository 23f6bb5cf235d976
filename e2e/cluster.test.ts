import { io as ioClient, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { deletePrefix, Inbox, uniquePrefix } from '@chat/shared/testing';
import type { RunningCluster } from '../scripts/cluster/cluster.ts';
import { startE2eCluster } from './fixture.ts';

// The whole topology as processes, used through nginx on :8080 like a client would.

let cluster: RunningCluster;
const prefix = uniquePrefix();
const logs: Array<{ name: string; line: string }> = [];
const BASE = 'http://127.0.0.1:8080';
let ports: { api: number[]; gateway: number[] };

beforeAll(async () => {
  ({ cluster, ports } = await startE2eCluster({ prefix, output: (name, line) => logs.push({ name, line }) }));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await deletePrefix(prefix);
});

interface User {
  id: string;
  username: string;
  token: string;
}

async function call(method: string, route: string, opts: { token?: string; cookie?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  // Like the seed's curl examples: JSON without a Content-Type.
  return fetch(BASE + route, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
}

async function newUser(): Promise<User> {
  const username = `e2e_${crypto.randomUUID().slice(0, 8)}`;
  const password = 'password123';
  expect((await call('POST', '/api/auth/register', { body: { username, email: `${username}@example.com`, password } })).status).toBe(201);
  const login = await call('POST', '/api/auth/login', { body: { username, password } });
  const body = (await login.json()) as { token: string; user: { id: string } };
  return { id: body.user.id, username, token: body.token };
}

describe("the seed README's curl scenarios through nginx", () => {
  it('scenario 1: register, login with the cookie, profile, refresh, logout', async () => {
    const username = `seed_${crypto.randomUUID().slice(0, 8)}`;
    expect((await call('POST', '/api/auth/register', { body: { username, email: `${username}@example.com`, password: 'password123' } })).status).toBe(
      201,
    );
    const login = await call('POST', '/api/auth/login', { body: { username, password: 'password123' } });
    expect(login.status).toBe(200);
    expect(login.headers.get('x-request-id')).toBeTruthy();
    const cookie = login.headers.getSetCookie()[0]?.split(';')[0] ?? '';
    expect(cookie).toMatch(/^jwt_token=/);
    expect(await (await call('GET', '/api/auth/profile', { cookie })).json()).toMatchObject({ username });
    expect((await call('POST', '/api/auth/refresh', { cookie })).status).toBe(400);
    expect((await call('POST', '/api/auth/logout', { cookie })).status).toBe(200);
    // Round robin: the next request lands on the other replica, which refuses too.
    expect((await call('GET', '/api/auth/profile', { cookie })).status).toBe(401);
    expect((await call('GET', '/api/auth/profile', { cookie })).status).toBe(401);
  });

  it('scenario 2: send over HTTP, read it back', async () => {
    const user = await newUser();
    const sent = await call('POST', '/api/messages', { token: user.token, body: { sender: user.username, content: 'Hello API!' } });
    expect(sent.status).toBe(201);
    const { id } = (await sent.json()) as { id: string };
    const list = (await (await call('GET', '/api/messages', { token: user.token })).json()) as { messages: Array<{ id: string }> };
    expect(list.messages.map((m) => m.id)).toContain(id);
  });

  it('serves the web page and the health report', async () => {
    const page = await fetch(`${BASE}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<!doctype html>');
    expect(await (await fetch(`${BASE}/health`)).json()).toMatchObject({ status: 'healthy', database: 'connected', redis: 'connected' });
  });

  it("serves the page from the API replicas with the API's security headers, each once, and nginx's request id", async () => {
    for (const [route, type] of [
      ['/', 'text/html; charset=utf-8'],
      ['/app.js', 'text/javascript; charset=utf-8'],
      ['/style.css', 'text/css; charset=utf-8'],
    ] as const) {
      const res = await fetch(`${BASE}${route}`, { headers: { 'x-request-id': `page-${route.length}` } });
      expect(res.status, route).toBe(200);
      expect(res.headers.get('content-type'), route).toBe(type);
      // A header sent twice would read as "a, b" here.
      expect(res.headers.get('x-request-id'), route).toBe(`page-${route.length}`);
      expect(res.headers.get('x-content-type-options'), route).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), route).toBe('no-referrer');
      expect(res.headers.get('content-security-policy'), route).toBe(
        "default-src 'self'; connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
      );
    }
    // Anything else is the API's JSON 404.
    const missing = await fetch(`${BASE}/nowhere.html`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found', code: 'not_found' });
  });

  it("publishes only /health of the API's paths outside /api/, and no metrics", async () => {
    for (const route of ['/health/live', '/health/ready', '/metrics']) {
      const res = await fetch(`${BASE}${route}`);
      expect(res.status, route).toBe(404);
      expect(await res.json(), route).toEqual({ error: 'not found', code: 'not_found' });
    }
  });
});

type Kind = 'io-polling' | 'io-websocket' | 'ws';
interface Conn {
  kind: Kind;
  user: User;
  gateway: string;
  inbox: Inbox<{ event: string; message: { id: string; content: string } }>;
  /** Resolves once sent; over Socket.IO, once the acknowledgement has been checked. */
  send(body: { content: string; recipient?: string; room_id?: string }): Promise<void>;
  close(): void;
}

/** Which gateway logged this user's connection (each connection here has a user of its own). */
function gatewayOf(userId: string): Promise<string> {
  return vi.waitFor(
    () => {
      const found = logs.find(({ name, line }) => name.startsWith('gateway') && line.includes('"client connected"') && line.includes(userId));
      if (!found) throw new Error(`no gateway logged a connection for ${userId}`);
      return found.name;
    },
    { timeout: 5_000, interval: 50 },
  );
}

async function connect(kind: Kind): Promise<Conn> {
  const user = await newUser();
  const inbox = new Inbox<{ event: string; message: { id: string; content: string } }>();
  if (kind === 'ws') {
    const ws = new WebSocket(`ws://127.0.0.1:8080/api/ws/connect?token=${user.token}`);
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString('utf8')) as { type: string; message: { id: string; content: string } };
      if (frame.message) inbox.push({ event: frame.type, message: frame.message });
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const send = (b: Record<string, unknown>) => {
      // The plain WebSocket has no acknowledgement; a refusal would come back as an error frame.
      ws.send(JSON.stringify({ type: 'message', ...b }));
      return Promise.resolve();
    };
    return { kind, user, gateway: await gatewayOf(user.id), inbox, send, close: () => ws.close() };
  }
  const socket: Socket = ioClient(BASE, {
    auth: { token: user.token },
    // Hashing this id keeps the long-polling session on one gateway and spreads clients.
    query: { client_id: crypto.randomUUID() },
    transports: kind === 'io-polling' ? ['polling', 'websocket'] : ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  // Recorded from the start: the upgrade can finish before `connect` is handled.
  const transports = [socket.io.engine.transport.name];
  socket.io.engine.on('upgrade', (transport: { name: string }) => transports.push(transport.name));
  socket.on('message', (message: { id: string; content: string }) => inbox.push({ event: 'message', message }));
  socket.on('direct_message', (message: { id: string; content: string }) => inbox.push({ event: 'direct_message', message }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  if (kind === 'io-polling') {
    // Long-polling first, then the upgrade, all through nginx's sticky hash.
    if (transports.length < 2) await new Promise<void>((resolve) => socket.io.engine.once('upgrade', () => resolve()));
    expect(transports).toEqual(['polling', 'websocket']);
  }
  return {
    kind,
    user,
    gateway: await gatewayOf(user.id),
    inbox,
    send: async (b) => {
      const ack: unknown = await socket.timeout(10_000).emitWithAck('message', b);
      expect(ack).toMatchObject({
        ok: true,
        message: {
          id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
          sender: user.username,
          recipient: b.recipient ?? null,
          room_id: b.room_id ?? null,
          content: b.content,
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as unknown,
        },
      });
    },
    close: () => socket.close(),
  };
}

describe('clients of every kind spread over both gateways', () => {
  const conns: Conn[] = [];
  afterAll(() => conns.forEach((c) => c.close()));

  beforeAll(async () => {
    const kinds: Kind[] = ['io-polling', 'io-websocket', 'ws'];
    // Keep adding clients until both gateways hold some: the spread is what we test.
    for (let i = 0; i < 30 && (conns.length < 6 || new Set(conns.map((c) => c.gateway)).size < 2); i++) {
      conns.push(await connect(kinds[i % kinds.length] as Kind));
    }
  }, 60_000);

  it('lands clients from one address on both gateways', () => {
    expect(new Set(conns.map((c) => c.gateway))).toEqual(new Set(['gateway-1', 'gateway-2']));
  });

  it('delivers a global message to every client', async () => {
    const sender = conns[0] as Conn;
    const content = `global ${crypto.randomUUID()}`;
    await sender.send({ content });
    const got: Array<{ event: string; message: { id: string } }> = [];
    for (const c of conns) got.push(await c.inbox.next((m) => m.event === 'message' && m.message.content === content, `${c.kind} on ${c.gateway}`));
    expect(got).toHaveLength(conns.length);
    expect(new Set(got.map((m) => m.message.id)).size, 'one stored message, the same for everyone').toBe(1);
  });

  it('delivers direct and room messages across gateways, only to their audience', async () => {
    const a = conns.find((c) => c.gateway === 'gateway-1') as Conn;
    const b = conns.find((c) => c.gateway === 'gateway-2') as Conn;
    const outsider = conns.find((c) => c !== a && c !== b) as Conn;

    const dm = `dm ${crypto.randomUUID()}`;
    await a.send({ content: dm, recipient: b.user.username });
    await b.inbox.next((m) => m.event === 'direct_message' && m.message.content === dm);

    const created = await call('POST', '/api/rooms', { token: a.user.token, body: { name: 'e2e room' } });
    const room = (await created.json()) as { id: string };
    expect((await call('POST', `/api/rooms/${room.id}/members/${b.user.id}`, { token: a.user.token })).status).toBe(201);
    const roomContent = `room ${crypto.randomUUID()}`;
    await b.send({ content: roomContent, room_id: room.id });
    await a.inbox.next((m) => m.message.content === roomContent);

    const barrier = `barrier ${crypto.randomUUID()}`;
    expect((await call('POST', '/api/messages', { token: a.user.token, body: { content: barrier } })).status).toBe(201);
    await outsider.inbox.next((m) => m.message.content === barrier);
    expect(outsider.inbox.items.map((m) => m.message.content)).not.toContain(dm);
    expect(outsider.inbox.items.map((m) => m.message.content)).not.toContain(roomContent);
  });

  it('lists users connected to both gateways in GET /api/ws/users', async () => {
    const res = await call('GET', '/api/ws/users', { token: conns[0]?.user.token });
    const body = (await res.json()) as { connected_users: string[]; count: number };
    for (const c of conns) expect(body.connected_users).toContain(c.user.username);
  });
});

/** Resolves with the runner's first log line matching `pattern`; the log is the only signal, so this polls it. */
function runnerLogged(pattern: RegExp): Promise<string> {
  return vi.waitFor(
    () => {
      const found = logs.find(({ name, line }) => name === 'cluster' && pattern.test(line));
      if (!found) throw new Error(`the runner did not log ${String(pattern)}`);
      return found.line;
    },
    { timeout: 15_000, interval: 50 },
  );
}

/** Until `url` answers 200 (0: no answer). */
async function untilOk(url: string): Promise<void> {
  const status = () =>
    fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status,
      () => 0,
    );
  await expect.poll(status, { message: `${url} answers 200`, timeout: 15_000, interval: 100 }).toBe(200);
}

/** Opens connections of one kind until nginx places one on `gateway`; closes the others. */
async function connectOn(gateway: string, kind: Kind): Promise<Conn> {
  for (let i = 0; i < 30; i++) {
    const conn = await connect(kind);
    if (conn.gateway === gateway) return conn;
    conn.close();
  }
  throw new Error(`nginx placed no ${kind} connection on ${gateway}`);
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('replicas killed with SIGKILL', () => {
  it('are restarted by the runner, and the cluster keeps serving through nginx', async () => {
    const user = await newUser();
    const before = { api: cluster.pid('api-1'), gateway: cluster.pid('gateway-1') };
    expect(before.api).toBeDefined();
    expect(before.gateway).toBeDefined();

    cluster.kill('gateway-1', 'SIGKILL');
    cluster.kill('api-1', 'SIGKILL');
    await runnerLogged(/^gateway-1 exited with code 137 \(signal SIGKILL\); restarting in 500 ms$/);
    await runnerLogged(/^api-1 exited with code 137 \(signal SIGKILL\); restarting in 500 ms$/);
    await runnerLogged(/^gateway-1 restarted \(pid \d+\)$/);
    await runnerLogged(/^api-1 restarted \(pid \d+\)$/);
    expect(isRunning(before.api as number)).toBe(false);
    expect(isRunning(before.gateway as number)).toBe(false);
    expect(cluster.pid('api-1')).not.toBe(before.api);
    expect(cluster.pid('gateway-1')).not.toBe(before.gateway);
    await Promise.all([untilOk(`http://127.0.0.1:${ports.api[0]}/health`), untilOk(`http://127.0.0.1:${ports.gateway[0]}/health`)]);

    // Round robin: these reach the restarted replica too.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await call('GET', '/api/auth/profile', { token: user.token })).status);
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 200));

    const io = await connectOn('gateway-1', 'io-websocket');
    const ws = await connectOn('gateway-1', 'ws');
    const content = `after the restart ${crypto.randomUUID()}`;
    await io.send({ content });
    const viaIo = await io.inbox.next((m) => m.message.content === content, 'Socket.IO on the restarted gateway');
    const viaWs = await ws.inbox.next((m) => m.message.content === content, 'plain WebSocket on the restarted gateway');
    expect(viaWs.message.id, 'the same stored message on both').toBe(viaIo.message.id);
    io.close();
    ws.close();
  });

  it('restarts nginx too', async () => {
    const before = cluster.pid('nginx') as number;
    cluster.kill('nginx', 'SIGKILL');
    await runnerLogged(/^nginx exited with code 137 \(signal SIGKILL\); restarting in 500 ms$/);
    await runnerLogged(/^nginx restarted \(pid \d+\)$/);
    expect(cluster.pid('nginx')).not.toBe(before);
    await untilOk(`${BASE}/health`);
  });
});

describe('an API replica going down', () => {
  it('does not fail GET requests through nginx', async () => {
    const user = await newUser();
    expect(await cluster.stopOne('api-1', 'SIGTERM')).toBe(0);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await call('GET', '/api/auth/profile', { token: user.token })).status);
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 200));
  });
});

describe('stopping the cluster', () => {
  it('leaves no child process running and restarts nothing', async () => {
    const pids = cluster.names.map((name) => cluster.pid(name)).filter((pid) => pid !== undefined);
    const nginxGroup = cluster.pid('nginx') as number;
    expect(pids.length).toBeGreaterThan(0);
    const linesBefore = logs.length;

    await cluster.stop();
    expect(pids.filter(isRunning)).toEqual([]);
    // nginx runs under a shell, in a process group of its own: no member may be left.
    expect(isRunning(-nginxGroup)).toBe(false);
    expect(cluster.names.map((name) => cluster.pid(name)).filter((pid) => pid !== undefined)).toEqual([]);
    expect(logs.slice(linesBefore).filter(({ name, line }) => name === 'cluster' && /restart/.test(line))).toEqual([]);
    expect(
      await fetch(`${BASE}/health`).then(
        (r) => r.status,
        () => 'refused',
      ),
    ).toBe('refused');
  });
});
