import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, sendMessage, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, CURSOR, emitCommand, startTwoGateways, type IoClient, type WsClient } from './harness.ts';

// Edits and deletions ride the one log: live to exactly the message's
// audience on both socket kinds, and replayed on resume, after the message,
// once each.

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

const LOG_EVENTS = new Set(['message', 'direct_message', 'message_updated', 'message_deleted']);

/** [event, message id, content] of every log event a client got, in arrival order. */
const wsLog = (c: WsClient) => c.inbox.items.filter((f) => LOG_EVENTS.has(f.type)).map((f) => [f.type, f.message?.id, f.message?.content] as const);
const ioLog = (c: IoClient) =>
  c.inbox.items
    .filter((e) => LOG_EVENTS.has(e.event))
    .map((e) => {
      // The seed's two events carry the message itself; the others carry {message, cursor}.
      const message = (e.event === 'message' || e.event === 'direct_message' ? e.payload : e.payload.message) as { id: string; content: string };
      return [e.event, message.id, message.content] as const;
    });

const edit = (as: TestUser, id: string, content: string) =>
  cluster.api.fetch(`/api/messages/${id}`, { method: 'PATCH', token: as.token, json: { content } });
const remove = (as: TestUser, id: string) => cluster.api.fetch(`/api/messages/${id}`, { method: 'DELETE', token: as.token });

describe('edits and deletions over the sockets', () => {
  it('reach the members of a room on both kinds and both gateways as message_updated and message_deleted, and no one else', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    const room = await createRoom(api, alice, 'changes');
    expect((await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token })).status).toBe(201);
    const bobWs = await connectWs(g1, bob.token);
    const bobIo = await connectIo(g2, bob.token);
    const carolWs = await connectWs(g2, carol.token);

    const sent = await sendMessage(api, alice, { content: 'draft', room_id: room.id });
    expect((await edit(alice, sent.id, 'final')).status).toBe(200);
    expect((await remove(alice, sent.id)).status).toBe(200);

    const updated = await bobWs.inbox.next((f) => f.type === 'message_updated', 'message_updated over ws');
    expect(updated).toMatchObject({
      message: { id: sent.id, content: 'final', edited_at: expect.any(String) as string },
      cursor: expect.stringMatching(CURSOR) as string,
    });
    await bobWs.inbox.next((f) => f.type === 'message_deleted', 'message_deleted over ws');
    await bobIo.inbox.next((e) => e.event === 'message_deleted', 'message_deleted over io');
    const expected = [
      ['message', sent.id, 'draft'],
      ['message_updated', sent.id, 'final'],
      ['message_deleted', sent.id, ''],
    ];
    expect(wsLog(bobWs)).toEqual(expected);
    expect(ioLog(bobIo)).toEqual(expected);

    // Carol is in no room with Alice: a global message she does get comes after, and nothing of the room before it.
    const marker = await sendMessage(api, alice, { content: 'global marker' });
    await carolWs.inbox.next((f) => f.message?.id === marker.id, 'the marker');
    expect(wsLog(carolWs)).toEqual([['message', marker.id, 'global marker']]);
    for (const c of [bobWs, carolWs]) c.ws.close();
    bobIo.socket.close();
  });

  it('are replayed on resume after the message they change, once each, with the message as it is now', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const first = await connectWs(g1, bob.token);
    const since = String(first.inbox.items[0]?.cursor);
    first.ws.terminate();
    await first.closed;

    // A live connection of Alice's sees the same entries: once it has the deletion, all of them are in the log.
    const watcher = await connectWs(g2, alice.token);
    const kept = await sendMessage(api, alice, { content: 'kept', recipient: bob.username });
    const gone = await sendMessage(api, alice, { content: 'gone', recipient: bob.username });
    expect((await edit(alice, kept.id, 'kept, edited')).status).toBe(200);
    expect((await remove(alice, gone.id)).status).toBe(200);
    await watcher.inbox.next((f) => f.type === 'message_deleted' && f.message?.id === gone.id, "the deletion on Alice's side");
    watcher.ws.close();

    const ws = await connectWs(g2, bob.token, { since });
    const resumed = await ws.inbox.next((f) => f.type === 'resumed', 'the resumed frame');
    expect(resumed.replayed).toBe(4);
    // A replayed entry carries the message as it is now: the edit is already in the first copy.
    expect(wsLog(ws)).toEqual([
      ['direct_message', kept.id, 'kept, edited'],
      ['direct_message', gone.id, ''],
      ['message_updated', kept.id, 'kept, edited'],
      ['message_deleted', gone.id, ''],
    ]);

    const io = await connectIo(g1, bob.token, { since });
    await io.inbox.next((e) => e.event === 'resumed', 'the resumed event');
    expect(ioLog(io)).toEqual(wsLog(ws));
    ws.ws.close();
    io.socket.close();
  });

  it('are commands on both kinds: edit and delete acknowledged, refusals as errors, retries with the same client_msg_id change nothing', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const ws = await connectWs(g1, alice.token);
    const io = await connectIo(g2, alice.token);
    const bobIo = await connectIo(g1, bob.token);
    const sent = await sendMessage(api, alice, { content: 'original', recipient: bob.username });

    ws.send({ type: 'edit', id: sent.id, content: 'over ws', client_msg_id: 'edit-1' });
    const ack = await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'edit-1', 'the edit ack');
    expect(ack.message).toMatchObject({ id: sent.id, content: 'over ws', edited_at: expect.any(String) as string });
    // The same key again: the message as it is now, no second edit.
    ws.send({ type: 'edit', id: sent.id, content: 'over ws', client_msg_id: 'edit-1' });
    await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'edit-1' && f !== ack, 'the retried edit ack');

    const edited = await emitCommand<{ ok: boolean; message?: { content: string } }>(io, 'edit', { id: sent.id, content: 'over io' });
    expect(edited).toMatchObject({ ok: true, message: { content: 'over io' } });
    // Bob may not edit Alice's message; a bad id is a validation error.
    expect(await emitCommand(bobIo, 'edit', { id: sent.id, content: 'hijack' })).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await emitCommand(bobIo, 'delete', { id: 'nope' })).toMatchObject({ ok: false, code: 'validation_failed' });
    ws.send({ type: 'delete', id: sent.id, client_msg_id: 'del-1' });
    const deleted = await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'del-1', 'the delete ack');
    expect(deleted.message).toMatchObject({ id: sent.id, content: '', deleted_at: expect.any(String) as string });
    ws.send({ type: 'edit', id: sent.id, content: 'too late', client_msg_id: 'edit-2' });
    expect(await ws.inbox.next((f) => f.type === 'error' && f.client_msg_id === 'edit-2', 'the refused edit')).toMatchObject({ code: 'conflict' });

    // Bob saw each change once, in order, the retry not at all.
    await expect
      .poll(() => ioLog(bobIo).filter(([event]) => event !== 'message' && event !== 'direct_message'), { timeout: 5_000 })
      .toEqual([
        ['message_updated', sent.id, 'over ws'],
        ['message_updated', sent.id, 'over io'],
        ['message_deleted', sent.id, ''],
      ]);
    ws.ws.close();
    io.socket.close();
    bobIo.socket.close();
  });

  it('carry reactions as the react command on both kinds, delivered as message_updated with the new reactions', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const aliceWs = await connectWs(g1, alice.token);
    const bobIo = await connectIo(g2, bob.token);
    const sent = await sendMessage(api, alice, { content: 'react here', recipient: bob.username });

    const acked = await emitCommand<{ ok: boolean; message?: { reactions: unknown[] } }>(bobIo, 'react', { id: sent.id, emoji: '🚀', add: true });
    expect(acked).toMatchObject({ ok: true, message: { reactions: [{ emoji: '🚀', count: 1, users: [bob.username] }] } });
    aliceWs.send({ type: 'react', id: sent.id, emoji: '🚀', add: true, client_msg_id: 'r-1' });
    const ack = await aliceWs.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'r-1', 'the react ack');
    expect(ack.message).toMatchObject({ reactions: [{ emoji: '🚀', count: 2 }] });
    aliceWs.send({ type: 'react', id: sent.id, emoji: 'not one', add: true, client_msg_id: 'r-2' });
    expect(await aliceWs.inbox.next((f) => f.type === 'error' && f.client_msg_id === 'r-2', 'the refused reaction')).toMatchObject({
      code: 'validation_failed',
    });

    const update = await aliceWs.inbox.next(
      (f) =>
        f.type === 'message_updated' &&
        (f.message?.reactions as unknown[] | undefined)?.length === 1 &&
        f.message?.id === sent.id &&
        (f.message.reactions as Array<{ count: number }>)[0]?.count === 2,
      'the second reaction as message_updated',
    );
    expect(update.cursor).toMatch(CURSOR);
    await expect.poll(() => ioLog(bobIo).filter(([event]) => event === 'message_updated').length, { timeout: 5_000 }).toBe(2);
    aliceWs.ws.close();
    bobIo.socket.close();
  });

  it('take replies from both kinds: the reply joins the thread and the root announces its new count', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const ws = await connectWs(g1, alice.token);
    const io = await connectIo(g2, bob.token);
    const root = await sendMessage(api, alice, { content: 'thread root', recipient: bob.username });
    const acked = await emitCommand<{ ok: boolean; message?: { reply_to: string } }>(io, 'message', {
      content: 'over io',
      recipient: alice.username,
      reply_to: root.id,
    });
    expect(acked).toMatchObject({ ok: true, message: { reply_to: root.id } });
    ws.send({ type: 'message', content: 'over ws', recipient: bob.username, reply_to: root.id, client_msg_id: 'reply-1' });
    const ack = await ws.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'reply-1', 'the reply ack');
    expect(ack.message).toMatchObject({ reply_to: root.id });
    await ws.inbox.next((f) => f.type === 'message_updated' && f.message?.id === root.id && f.message.reply_count === 2, 'the root counted twice');
    ws.ws.close();
    io.socket.close();
  });
});
