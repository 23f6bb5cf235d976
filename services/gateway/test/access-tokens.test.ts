import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type TestUser } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitCommand, refusedWs, startTwoGateways } from './harness.ts';

// Access tokens on the sockets: both kinds take them as bearer tokens, hold
// them to their scopes, and close the sockets opened with one the moment it is
// deleted, on every gateway.

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

async function newToken(as: TestUser, scopes: string[]): Promise<{ id: string; token: string }> {
  const res = await cluster.api.fetch('/api/tokens', { method: 'POST', token: as.token, json: { name: 'socket', scopes } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

describe('access tokens on the sockets', () => {
  it('connect both kinds and are held to their scopes: reading needs messages:read, sending messages:write', async () => {
    const { api, g1, g2 } = cluster;
    const alice = await createUser(api);
    const readOnly = await newToken(alice, ['messages:read']);
    const both = await newToken(alice, ['messages:read', 'messages:write']);
    const writeOnly = await newToken(alice, ['messages:write']);

    const ws = await connectWs(g1, readOnly.token, { via: 'header' });
    ws.send({ type: 'message', content: 'no', client_msg_id: 'ro' });
    expect(await ws.inbox.next((f) => f.type === 'error' && f.client_msg_id === 'ro', 'the refusal')).toMatchObject({ code: 'forbidden' });
    const io = await connectIo(g2, both.token);
    expect(await emitCommand(io, 'message', { content: 'from a bot script' })).toMatchObject({ ok: true, message: { sender: alice.username } });
    await ws.inbox.next((f) => f.message?.content === 'from a bot script', 'the message, read with the read-only token');
    // Without messages:read a token cannot hold a connection.
    expect((await refusedWs(g1, writeOnly.token)).status).toBe(403);
    ws.ws.close();
    io.socket.close();
  });

  it('close the sockets opened with a token on every gateway when it is deleted, and no others', async () => {
    const { api, g1, g2 } = cluster;
    const alice = await createUser(api);
    const doomed = await newToken(alice, ['messages:read']);
    const ws = await connectWs(g1, doomed.token, { via: 'header' });
    const io = await connectIo(g2, doomed.token);
    const session = await connectWs(g2, alice.token);
    expect((await api.fetch(`/api/tokens/${doomed.id}`, { method: 'DELETE', token: alice.token })).status).toBe(204);
    expect((await ws.closed).code).toBe(4001);
    expect(await io.disconnected).toBe('io server disconnect');
    expect((await refusedWs(g1, doomed.token)).status).toBe(401);
    // The session goes on.
    session.send({ type: 'ping' });
    await session.inbox.next((f) => f.type === 'pong', 'pong on the session socket');
    session.ws.close();
  });
});
