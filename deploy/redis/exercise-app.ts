import { expect } from 'vitest';
import { createRoom, createUser, sendMessage, type TestApi } from '../../services/api/test/harness.ts';
import { connectIo, connectWs, emitMessage, type TestGateway } from '../../services/gateway/test/harness.ts';

/**
 * Runs every Redis path of the app once, as the ACL tests need: health,
 * presence, REST -> router -> plain WebSocket, a room (membership routing), a Socket.IO send and
 * its delivery, and revocation on logout. The caller then asks Redis whether
 * it refused any command.
 */
export async function exerciseEveryRedisPath(api: TestApi, gateway: TestGateway, content: string): Promise<void> {
  const alice = await createUser(api);
  expect((await api.fetch('/health')).status).toBe(200);
  const ws = await connectWs(gateway, alice.token).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${gateway.logs.join('')}`);
  });
  const online = await api.fetch('/api/ws/users', { token: alice.token });
  expect(online.status).toBe(200);
  expect(JSON.stringify(await online.json())).toContain(alice.username);

  const sent = await api.fetch('/api/messages', { method: 'POST', token: alice.token, json: { content } });
  expect(sent.status).toBe(201);
  await ws.inbox.next((f) => f.type === 'message' && f.message?.content === content, 'the delivered message');

  // A room made while connected: its membership frame adds the room for this gateway (CONTROL), then its message is routed here.
  const room = await createRoom(api, alice, 'acl');
  await sendMessage(api, alice, { content: `${content} in a room`, room_id: room.id });
  await ws.inbox.next((f) => f.type === 'message' && f.message?.content === `${content} in a room`, 'the room message');

  const io = await connectIo(gateway, alice.token);
  expect(await emitMessage(io, { content: 'over socket.io' })).toMatchObject({ ok: true });
  await io.inbox.next((e) => e.event === 'message' && e.payload.content === 'over socket.io', 'the Socket.IO message');
  io.socket.close();

  // Revocation: written on logout, checked on the next request and closing the socket.
  expect((await api.fetch('/api/auth/logout', { method: 'POST', token: alice.token })).status).toBeLessThan(300);
  expect((await api.fetch('/api/auth/profile', { token: alice.token })).status).toBe(401);
  expect((await ws.closed).code).toBe(4001);
}
