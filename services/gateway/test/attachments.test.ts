import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfFile, pngFile } from '@chat/shared/testing';
import { createUser, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitCommand, startTwoGateways } from './harness.ts';

// Attachments ride every send: both socket kinds take `attachments: [upload id]`,
// the message carries them to its audience on every transport, and a deletion
// over a socket deletes the files too.

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

async function upload(as: TestUser, bytes: Uint8Array, name: string): Promise<{ id: string; url: string }> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  const res = await cluster.api.fetch('/api/uploads', { method: 'POST', token: as.token, body: form });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; url: string };
}

describe('attachments over the sockets', () => {
  it('are taken by a send on both kinds and reach the audience on the other gateway with the message', async () => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const aliceWs = await connectWs(g1, alice.token);
    const aliceIo = await connectIo(g1, alice.token);
    const bobWs = await connectWs(g2, bob.token);
    const image = await upload(alice, pngFile(5, 6), 'pic.png');
    const doc = await upload(alice, pdfFile(), 'doc.pdf');

    aliceWs.send({ type: 'message', content: 'a picture', recipient: bob.username, attachments: [image.id], client_msg_id: 'att-1' });
    const ack = await aliceWs.inbox.next((f) => f.type === 'ack' && f.client_msg_id === 'att-1', 'the ack');
    expect(ack.message?.attachments).toEqual([
      { id: image.id, name: 'pic.png', size: expect.any(Number) as number, content_type: 'image/png', url: image.url, width: 5, height: 6 },
    ]);
    const got = await bobWs.inbox.next((f) => f.type === 'direct_message' && f.message?.id === ack.message?.id, 'the picture');
    expect(got.message?.attachments).toEqual(ack.message?.attachments);

    const acked = await emitCommand<{ ok: boolean; message?: { id: string; attachments: Array<{ id: string }> } }>(aliceIo, 'message', {
      content: 'a document',
      recipient: bob.username,
      attachments: [doc.id],
    });
    expect(acked.message?.attachments.map((a) => a.id)).toEqual([doc.id]);
    await bobWs.inbox.next((f) => f.message?.id === acked.message?.id, 'the document');
    // Bob downloads both; then Alice deletes the document over the socket, and it is gone.
    for (const file of [image, doc]) expect((await api.fetch(file.url, { token: bob.token })).status).toBe(200);
    expect(await emitCommand(aliceIo, 'delete', { id: acked.message?.id })).toMatchObject({ ok: true, message: { attachments: [] } });
    expect((await api.fetch(doc.url, { token: bob.token })).status).toBe(404);
    await expect.poll(async () => (await api.resources.db.selectFrom('uploads').select('id').where('id', '=', doc.id).execute()).length).toBe(0);
    for (const c of [aliceWs, bobWs]) c.ws.close();
    aliceIo.socket.close();
  });

  it("refuses someone else's upload on both kinds with validation_failed, and stores nothing", async () => {
    const { api, g1 } = cluster;
    const [alice, mallory] = await Promise.all([createUser(api), createUser(api)]);
    const hers = await upload(alice, pngFile(1, 1), 'hers.png');
    const ws = await connectWs(g1, mallory.token);
    const io = await connectIo(g1, mallory.token);
    ws.send({ type: 'message', content: 'mine now', attachments: [hers.id], client_msg_id: 'steal' });
    expect(await ws.inbox.next((f) => f.type === 'error' && f.client_msg_id === 'steal', 'the refusal')).toMatchObject({ code: 'validation_failed' });
    expect(await emitCommand(io, 'message', { content: 'mine now', attachments: [hers.id] })).toMatchObject({ ok: false, code: 'validation_failed' });
    const stored = await api.resources.db.selectFrom('messages').select('id').where('sender_id', '=', mallory.id).execute();
    expect(stored).toEqual([]);
    ws.ws.close();
    io.socket.close();
  });
});
