import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createUser, startApi, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, startGateway, type TestGateway } from './harness.ts';

// Concurrent senders through two API replicas and both socket kinds, while
// receivers of both kinds keep dropping and resuming on alternating gateways.
// Every acknowledged message must reach every receiver exactly once, in log
// order: a message that took its position before another but committed after
// it must not be skipped by a receiver that resumed in between.

let apis: TestApi[];
let gateways: TestGateway[];

beforeAll(async () => {
  const first = await startApi();
  const prefix = first.config.redis.prefix;
  apis = [first, await startApi({ REDIS_PREFIX: prefix })];
  gateways = await Promise.all([startGateway(prefix), startGateway(prefix)]);
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(apis.map((a) => a.close()));
});

/** Tests may look inside a cursor; clients must not. */
const seqOf = (cursor: string) => Number.parseInt(cursor.split('.')[1] ?? '', 36);

interface Received {
  ids: string[];
  seqs: number[];
}

/** A receiver that reconnects with its last cursor after every few messages, to alternating gateways and kinds. */
function churningReceiver(user: TestUser, kind: 'ws' | 'io', stop: () => boolean): { received: Received; ready: Promise<void>; done: Promise<void> } {
  const received: Received = { ids: [], seqs: [] };
  let cursor: string | undefined;
  let connected = () => {};
  // Messages sent before a client first connects are not its to receive: start sending after this.
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const record = (id: string, c: string) => {
    received.ids.push(id);
    received.seqs.push(seqOf(c));
    cursor = c;
  };
  const done = (async () => {
    for (let round = 0; !stop(); round++) {
      const gw = gateways[round % 2] as TestGateway;
      const quota = 3 + (round % 5);
      const before = received.ids.length;
      if (kind === 'ws') {
        const c = await connectWs(gw, user.token, cursor === undefined ? {} : { since: cursor });
        const onFrame = (f: { type: string; message?: { id: string }; cursor?: unknown }) => {
          if (f.message && typeof f.cursor === 'string') record(f.message.id, f.cursor);
          else if (typeof f.cursor === 'string') cursor = f.cursor;
        };
        // What arrived before this listener (the connection frame, the first of a replay) is in the inbox.
        for (const f of c.inbox.items) onFrame(f);
        c.ws.on('message', (data) => onFrame(JSON.parse((data as Buffer).toString('utf8')) as { type: string }));
        connected();
        await untilQuotaOrStop(() => received.ids.length - before >= quota || stop());
        c.ws.terminate();
        await c.closed;
      } else {
        const c = await connectIo(gw, user.token, cursor === undefined ? {} : { since: cursor });
        c.socket.onAny((event: string, payload: { id?: string; cursor?: string }) => {
          if ((event === 'message' || event === 'direct_message') && payload.id && payload.cursor) record(payload.id, payload.cursor);
          else if ((event === 'resumed' || event === 'reload') && payload.cursor) cursor = payload.cursor;
        });
        // Events that arrived before onAny was attached are in the harness inbox.
        for (const e of c.inbox.items) {
          if ((e.event === 'message' || e.event === 'direct_message') && e.payload.id) record(e.payload.id, String(e.payload.cursor));
          else if (e.event === 'resumed') cursor = String(e.payload.cursor);
        }
        connected();
        await untilQuotaOrStop(() => received.ids.length - before >= quota || stop());
        c.socket.disconnect();
      }
    }
  })();
  return { received, ready, done };
}

/** Until this connection has had its quota of messages, or the test is over. */
const untilQuotaOrStop = (condition: () => boolean) => vi.waitUntil(condition, { timeout: 60_000, interval: 5 });

describe('exactly once, in log order, across replicas and reconnects', () => {
  it('delivers every acknowledged message to every resuming receiver once', { timeout: 90_000 }, async () => {
    const senders = await Promise.all(Array.from({ length: 6 }, () => createUser(apis[0] as TestApi)));
    const receivers = await Promise.all(Array.from({ length: 4 }, () => createUser(apis[1] as TestApi)));
    const acknowledged = new Set<string>();
    let settled = false;

    const listeners = receivers.map((user, i) => churningReceiver(user, i % 2 === 0 ? 'ws' : 'io', () => settled));

    await Promise.all(listeners.map((l) => l.ready));
    const PER_SENDER = 30;
    const restSenders = senders.slice(0, 4).map(async (user, i) => {
      const api = apis[i % 2] as TestApi;
      for (let n = 0; n < PER_SENDER; n++) {
        const res = await api.fetch('/api/messages', { method: 'POST', token: user.token, json: { content: `rest ${i} ${n}` } });
        expect(res.status).toBe(201);
        acknowledged.add(((await res.json()) as { id: string }).id);
      }
    });
    const ioSender = (async () => {
      const c = await connectIo(gateways[0] as TestGateway, (senders[4] as TestUser).token);
      for (let n = 0; n < PER_SENDER; n++) {
        const ack = await emitMessage(c, { content: `io ${n}`, client_msg_id: `io-${n}` });
        expect(ack.ok).toBe(true);
        acknowledged.add(String(ack.message?.id));
      }
      c.socket.close();
    })();
    const wsSender = (async () => {
      const c = await connectWs(gateways[1] as TestGateway, (senders[5] as TestUser).token);
      for (let n = 0; n < PER_SENDER; n++) {
        c.send({ type: 'message', content: `ws ${n}`, client_msg_id: `ws-${n}` });
        const ack = await c.inbox.next((f) => f.type === 'ack' && f.client_msg_id === `ws-${n}`, `ack ws-${n}`, 10_000);
        acknowledged.add(String((ack.message as { id: string }).id));
      }
      c.ws.close();
    })();

    await Promise.all([...restSenders, ioSender, wsSender]);
    expect(acknowledged.size).toBe(6 * PER_SENDER);
    // Every receiver keeps churning until it holds every acknowledged message.
    await vi.waitFor(
      () => {
        for (const [i, l] of listeners.entries())
          expect(
            [...acknowledged].filter((id) => !l.received.ids.includes(id)),
            `missing at receiver ${i}`,
          ).toEqual([]);
      },
      { timeout: 60_000, interval: 20 },
    );
    settled = true;
    await Promise.all(listeners.map((l) => l.done));

    for (const { received } of listeners) {
      const ours = received.ids.filter((id) => acknowledged.has(id));
      expect(new Set(ours).size, 'no message twice').toBe(ours.length);
      expect(ours.length).toBe(acknowledged.size);
      const seqs = received.seqs;
      expect(seqs, 'log order').toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
  });
});
