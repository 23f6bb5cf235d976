import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, sendMessage } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, startTwoGateways } from './harness.ts';

// client_msg_id on socket sends: a retry gets the original in its ack and
// nobody receives the message twice. Plain-WS frames that carry one are
// acknowledged (or refused) by a frame carrying it; frames without one
// behave as the seed's clients expect (no ack).

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

describe('client_msg_id', () => {
  it('over Socket.IO: a retry is acknowledged with the original, and delivered once', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const sender = await connectIo(g1, alice.token);
    const receiver = await connectWs(g2, bob.token);
    const key = `io-${crypto.randomUUID()}`;
    const first = await emitMessage(sender, { content: 'io once', recipient: bob.username, client_msg_id: key });
    const retry = await emitMessage(sender, { content: 'io once', recipient: bob.username, client_msg_id: key });
    expect(first.ok).toBe(true);
    expect(retry).toEqual(first);

    const barrier = await sendMessage(api, alice, { content: `barrier ${key}`, recipient: bob.username });
    await receiver.inbox.next((f) => f.message?.id === barrier.id, 'the barrier');
    expect(receiver.inbox.count((f) => f.message?.id === first.message?.id)).toBe(1);
    sender.socket.close();
    receiver.ws.close();
  });

  it('over plain WS: acknowledged by an ack frame, a retry gets the original, delivered once', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const sender = await connectWs(g1, alice.token);
    const receiver = await connectIo(g2, bob.token);
    const key = `ws-${crypto.randomUUID()}`;
    sender.send({ type: 'message', content: 'ws once', recipient: bob.username, client_msg_id: key });
    const ack = await sender.inbox.next((f) => f.type === 'ack', 'the ack');
    expect(ack).toEqual({
      type: 'ack',
      client_msg_id: key,
      message: expect.objectContaining({ content: 'ws once', recipient: bob.username }) as object,
    });
    sender.send({ type: 'message', content: 'ws once', recipient: bob.username, client_msg_id: key });
    await sender.inbox.next((f) => f.type === 'ack' && f !== ack, 'the second ack');
    expect(sender.inbox.items.filter((f) => f.type === 'ack')).toEqual([ack, ack]);

    const barrier = await sendMessage(api, alice, { content: `barrier ${key}`, recipient: bob.username });
    await receiver.inbox.next((e) => e.payload.id === barrier.id, 'the barrier');
    // Each gateway applies the log on its own: the barrier must reach the sender's too
    // before its copies are counted (on a Redis Cluster the two may hear it apart).
    await sender.inbox.next((f) => f.message?.id === barrier.id, "the barrier on the sender's gateway");
    const id = (ack.message as { id: string }).id;
    expect(receiver.inbox.count((e) => e.payload.id === id)).toBe(1);
    // The sender's own copy arrives through fan-out, once, like any direct message.
    expect(sender.inbox.count((f) => f.type === 'direct_message' && f.message?.id === id)).toBe(1);
    sender.ws.close();
    receiver.socket.close();
  });

  it("over plain WS: a refused send says which one, and a frame without a key gets no ack (the seed's way)", async () => {
    const { api, g1 } = cluster;
    const alice = await createUser(api);
    const ws = await connectWs(g1, alice.token);
    ws.send({ type: 'message', content: 'to nobody', recipient: 'no_such_user_here', client_msg_id: 'k-1' });
    expect(await ws.inbox.next((f) => f.type === 'error', 'the error frame')).toEqual({
      type: 'error',
      code: 'not_found',
      error: 'recipient not found',
      client_msg_id: 'k-1',
    });
    ws.send({ type: 'message', content: 'bad key', client_msg_id: 'has spaces' });
    expect(await ws.inbox.next((f) => f.type === 'error' && f.client_msg_id === 'has spaces', 'the key error')).toMatchObject({
      code: 'validation_failed',
    });
    ws.send({ type: 'message', content: 'keyless, like the seed' });
    await ws.inbox.next((f) => f.type === 'message' && f.message?.content === 'keyless, like the seed', 'its own copy');
    expect(ws.inbox.count((f) => f.type === 'ack')).toBe(0);
    ws.ws.close();
  });
});
