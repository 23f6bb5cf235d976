import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMessageService, type LogNumbering } from '@chat/shared/chat';
import { closeConnections, openConnections } from '@chat/shared/connections';
import { createLogger } from '@chat/shared/logger';
import { startRedisServer, uniquePrefix } from '@chat/shared/testing';
import { createUser, sendMessage, startApi, testConfig, type TestApi } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, startGateway, type IoClient, type TestGateway, type WsClient } from './harness.ts';

// Committed means delivered: a message whose publish never happened (the API
// replica died between commit and publish) or failed (Redis away) still
// reaches live clients, who neither reconnect nor ask, within seconds.

const DELIVERED_WITHIN_MS = 5_000;

/** How many times each client got the message with this content. */
function copies(ws: WsClient, io: IoClient, content: string) {
  return {
    ws: ws.inbox.count((f) => f.message?.content === content),
    io: io.inbox.count((e) => e.payload.content === content),
  };
}

describe('a commit whose publish never happened', () => {
  let api: TestApi;
  let g1: TestGateway;
  let g2: TestGateway;
  beforeAll(async () => {
    api = await startApi();
    [g1, g2] = await Promise.all([startGateway(api.config.redis.prefix), startGateway(api.config.redis.prefix)]);
  });
  afterAll(async () => {
    await Promise.all([g1.close(), g2.close()]);
    await api.close();
  });

  // A replica killed right after its commit has stored the message and, if the
  // log lock was free, numbered it in that commit (store_message); either way
  // it announced nothing. The gateways number orphans, and route from the log
  // what was numbered but never routed.
  it.each([
    { died: 'stored, not numbered', inCommit: 0 },
    { died: 'numbered in its commit, not announced', inCommit: 1_000 },
  ])('reaches live clients on every gateway from the log, once: $died', async ({ inCommit }) => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const ws = await connectWs(g1, bob.token);
    const io = await connectIo(g2, bob.token);
    const config = testConfig({ REDIS_PREFIX: api.config.redis.prefix });
    const logger = createLogger({ level: 'silent', service: 'api' });
    const conn = openConnections(config, logger);
    const dies: LogNumbering = { inCommit, announce: () => {}, numberPending: () => Promise.resolve(), numberStale: () => Promise.resolve() };
    const dying = createMessageService({ db: conn.db, numbering: dies, maxMessageLength: 2_000, logger });
    try {
      const started = Date.now();
      const { message } = await dying.send(
        { id: alice.id, username: alice.username },
        { content: `committed, never published (${inCommit})`, recipient: bob.username },
      );
      const overWs = await ws.inbox.next((f) => f.message?.id === message.id, 'the unpublished message over ws', DELIVERED_WITHIN_MS);
      await io.inbox.next((e) => e.payload.id === message.id, 'the unpublished message over io', DELIVERED_WITHIN_MS);
      console.log(`unpublished message delivered after ${Date.now() - started} ms`);
      expect(overWs.message).toEqual(message);

      // A later message, published normally, arrives after it; neither twice.
      const later = await sendMessage(api, alice, { content: 'published normally', recipient: bob.username });
      await ws.inbox.next((f) => f.message?.id === later.id, 'the later message over ws');
      await io.inbox.next((e) => e.payload.id === later.id, 'the later message over io');
      expect(copies(ws, io, `committed, never published (${inCommit})`)).toEqual({ ws: 1, io: 1 });
    } finally {
      ws.ws.close();
      io.socket.close();
      await closeConnections(conn);
    }
  });
});

describe('a commit while Redis is away', () => {
  it('is acknowledged and reaches live clients on the other gateway without a reconnect; none twice after Redis returns', async () => {
    const redis = await startRedisServer();
    const prefix = uniquePrefix();
    // The users are made on an API of the shared Redis: their tokens hold on any gateway of the test secret.
    const maker = await startApi();
    const [alice, bob] = await Promise.all([createUser(maker), createUser(maker)]);
    await maker.close();
    const [g1, g2] = await Promise.all([startGateway(prefix, { REDIS_URL: redis.url }), startGateway(prefix, { REDIS_URL: redis.url })]);
    const sender = await connectIo(g1, alice.token);
    const ws = await connectWs(g2, bob.token);
    const io = await connectIo(g2, bob.token);
    // Live (its post-accept revocation check done) before Redis goes: `resumed` follows the check.
    await io.inbox.next((e) => e.event === 'resumed', 'the live Socket.IO connection');
    await sender.inbox.next((e) => e.event === 'resumed', 'the live sender');
    let revived: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      await redis.kill();
      const during = await emitMessage(sender, { content: 'sent while Redis is down', client_msg_id: 'down-1' });
      expect(during).toMatchObject({ ok: true });
      await ws.inbox.next((f) => f.message?.id === during.message?.id, 'the message over ws', DELIVERED_WITHIN_MS);
      await io.inbox.next((e) => e.payload.id === during.message?.id, 'the message over io', DELIVERED_WITHIN_MS);

      revived = await startRedisServer(redis.port);
      // Once the gateway has registered with the router again and resubscribed to its channel, live delivery resumes;
      // the outage's message is not sent again.
      const after = await emitMessage(sender, { content: 'sent after Redis is back', client_msg_id: 'up-1' });
      expect(after).toMatchObject({ ok: true });
      await ws.inbox.next((f) => f.message?.id === after.message?.id, 'the later message over ws', DELIVERED_WITHIN_MS);
      await io.inbox.next((e) => e.payload.id === after.message?.id, 'the later message over io', DELIVERED_WITHIN_MS);
      expect(copies(ws, io, 'sent while Redis is down')).toEqual({ ws: 1, io: 1 });
      expect(copies(ws, io, 'sent after Redis is back')).toEqual({ ws: 1, io: 1 });
    } finally {
      sender.socket.close();
      ws.ws.close();
      io.socket.close();
      await Promise.all([g1.close(), g2.close()]);
      await redis.stop();
      await revived?.stop();
    }
  });
});
