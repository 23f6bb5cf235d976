import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRedisServer, startTcpProxy, uniquePrefix, type TcpProxy } from '@chat/shared/testing';
import { createUser, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, refusedWs, startGateway, type TestGateway } from './harness.ts';

// While PostgreSQL or Redis cannot be reached, a socket client's send is
// answered with code `unavailable` (an ack on Socket.IO, an error frame on the
// plain endpoint) within the configured timeouts, and new connections are
// refused the same way: never an internal error, never silence.

let api: TestApi;
let ioUser: TestUser;
let wsUser: TestUser;

beforeAll(async () => {
  // Users are made on a healthy API; their tokens hold on every gateway under the test secret.
  api = await startApi();
  [ioUser, wsUser] = await Promise.all([createUser(api), createUser(api)]);
});
afterAll(() => api.close());

/** Both kinds of client, connected while everything still works. */
async function connectBoth(gw: TestGateway) {
  const io = await connectIo(gw, ioUser.token);
  const ws = await connectWs(gw, wsUser.token);
  expect(await emitMessage(io, { content: 'before' })).toMatchObject({ ok: true });
  return {
    io,
    ws,
    close() {
      io.socket.close();
      ws.ws.close();
    },
  };
}

/** Sends one message over each kind of socket, expecting `unavailable` for both; returns their content. */
async function expectSendsUnavailable(clients: Awaited<ReturnType<typeof connectBoth>>, withinMs: number): Promise<string> {
  const content = `during ${randomBytes(6).toString('hex')}`;
  const started = Date.now();
  expect(await emitMessage(clients.io, { content })).toMatchObject({ ok: false, code: 'unavailable' });
  clients.ws.send({ type: 'message', content });
  expect(await clients.ws.inbox.next((f) => f.type === 'error', 'an error frame')).toMatchObject({ code: 'unavailable' });
  expect(Date.now() - started).toBeLessThan(withinMs);
  return content;
}

async function storedWith(content: string): Promise<number> {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from messages where content = $1', [content]);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

async function expectConnectsUnavailable(gw: TestGateway) {
  await expect(connectIo(gw, ioUser.token)).rejects.toMatchObject({ data: { code: 'unavailable' } });
  expect(await refusedWs(gw, wsUser.token)).toMatchObject({ status: 503, body: { code: 'unavailable' } });
}

describe('Redis killed under a gateway', () => {
  it('still stores and acknowledges socket sends (the gateways read them from the log), and refuses new connections', async () => {
    const redis = await startRedisServer();
    const gw = await startGateway(uniquePrefix(), { REDIS_URL: redis.url });
    const clients = await connectBoth(gw);
    try {
      await redis.kill();
      // The reset reaches the gateway at once; /health shows when it has.
      await expect.poll(() => fetch(`${gw.url}/health`).then((r) => r.status), { timeout: 5_000 }).toBe(503);
      // PostgreSQL is the source of truth: a send commits and is delivered from
      // the log (see lost-publish.test.ts), so Redis being away is no reason to refuse it.
      const content = `during ${randomBytes(6).toString('hex')}`;
      expect(await emitMessage(clients.io, { content })).toMatchObject({ ok: true });
      expect(await storedWith(content)).toBe(1);
      // A token that cannot be checked against the revocation list is refused, not trusted.
      await expectConnectsUnavailable(gw);
    } finally {
      clients.close();
      await redis.stop();
      await gw.close();
    }
  });
});

describe('PostgreSQL away under a gateway', () => {
  let proxy: TcpProxy;
  const target = new URL(inject('databaseUrl'));
  beforeAll(async () => {
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  });
  afterAll(() => proxy.close());

  it('answers sends with unavailable once connections are cut and refused', async () => {
    const gw = await startGateway(api.config.redis.prefix, { DATABASE_URL: proxy.via(target.toString()) });
    const clients = await connectBoth(gw);
    try {
      await proxy.close();
      await expectSendsUnavailable(clients, 5_000);
      // The handshake reads the user's rooms.
      await expectConnectsUnavailable(gw);
    } finally {
      clients.close();
      await gw.close();
    }
  });
});

describe('PostgreSQL that stops answering under a gateway', () => {
  it('answers sends with unavailable within the query timeout', async () => {
    const target = new URL(inject('databaseUrl'));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const gw = await startGateway(api.config.redis.prefix, {
      DATABASE_URL: proxy.via(target.toString()),
      DB_CONNECT_TIMEOUT: '400ms',
      DB_QUERY_TIMEOUT: '400ms',
    });
    const clients = await connectBoth(gw);
    try {
      proxy.freeze();
      // Two sends, each bounded by one timeout: the Socket.IO one, then the plain one.
      await expectSendsUnavailable(clients, 2_500);
    } finally {
      clients.close();
      await proxy.close();
      await gw.close();
    }
  });
});
