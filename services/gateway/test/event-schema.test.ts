import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredMessage } from '@chat/shared/events';
import { chatMessage } from '@chat/shared/model';
import { createRoom, createUser, sendMessage } from '../../api/test/harness.ts';
import { connectIo, connectWs, startTwoGateways } from './harness.ts';

// The message shape is defined once (the shared zod schema). This proves the
// gateways forward all of it: a field added to the schema and returned by REST
// must reach both socket kinds, not be stripped by a copy of the schema.

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;

beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

const schemaFields = Object.keys(chatMessage.shape).sort();

describe('the shared message schema', () => {
  it.each([
    ['global', () => Promise.resolve({})],
    ['direct', (_a: { id: string }, b: { username: string }) => Promise.resolve({ recipient: b.username })],
    [
      'room',
      async (a: Parameters<typeof createRoom>[1], b: { id: string }) => {
        const room = await createRoom(cluster.api, a, 'schema');
        const res = await cluster.api.fetch(`/api/rooms/${room.id}/members/${b.id}`, { method: 'POST', token: a.token });
        expect(res.status).toBe(201);
        return { room_id: room.id };
      },
    ],
  ] as const)('reaches Socket.IO and plain-WS clients on both gateways field for field (%s)', async (_kind, address) => {
    const { api, g1, g2 } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const target = await address(alice, bob);
    const io = await connectIo(g1, bob.token);
    const ws = await connectWs(g2, bob.token);
    try {
      const content = `schema ${crypto.randomUUID()}`;
      const stored = await sendMessage(api, alice, { content, ...target });
      expect(Object.keys(stored).sort()).toEqual(schemaFields);

      const overIo = await io.inbox.next((e) => e.payload.content === content, 'the Socket.IO delivery');
      const overWs = await ws.inbox.next((f) => f.message?.content === content, 'the plain-WS delivery');
      expect(overIo.payload).toEqual({ ...stored, cursor: overWs.cursor });
      expect(overWs.message).toEqual(stored);
      expect(Object.keys(overIo.payload).sort()).toEqual(Object.keys(deliveredMessage.shape).sort());
    } finally {
      io.socket.close();
      ws.ws.close();
    }
  });
});
