import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoom, createUser, sendMessage, type TestApi, type TestUser } from '../../api/test/harness.ts';
import { CURSOR, connectIo, connectWs, emitMessage, startTwoGateways, type IoClient, type TestGateway, type WsClient } from './harness.ts';

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;
let api: TestApi;
let g1: TestGateway;
let g2: TestGateway;

beforeAll(async () => {
  cluster = await startTwoGateways();
  ({ api, g1, g2 } = cluster);
});
afterAll(() => cluster.close());

type Kind = 'io' | 'ws';
type Client = { kind: 'io'; c: IoClient } | { kind: 'ws'; c: WsClient };

async function connect(kind: Kind, gw: TestGateway, user: TestUser): Promise<Client> {
  return kind === 'io' ? { kind, c: await connectIo(gw, user.token) } : { kind, c: await connectWs(gw, user.token) };
}

/** Everything a client got, as `{event, message}` whatever its framing. */
function received(client: Client): Array<{ event: string; message: { id: string; content: string } }> {
  if (client.kind === 'io') {
    return client.c.inbox.items
      .filter((e) => e.event === 'message' || e.event === 'direct_message')
      .map((e) => ({ event: e.event, message: e.payload as { id: string; content: string } }));
  }
  return client.c.inbox.items
    .filter((f) => f.type === 'message' || f.type === 'direct_message')
    .map((f) => ({ event: f.type, message: f.message as { id: string; content: string } }));
}

/** Waits until `client` receives `event` carrying `content`, and returns the exact frame it got. */
async function waitFor(client: Client, event: string, content: string): Promise<unknown> {
  if (client.kind === 'io') {
    const got = await client.c.inbox.next((e) => e.event === event && e.payload.content === content, `${event} "${content}"`);
    return got.payload;
  }
  return client.c.inbox.next((f) => f.type === event && f.message?.content === content, `${event} "${content}"`);
}

/**
 * Proves a client got nothing addressed elsewhere: a global "barrier" message
 * is published after the message under test, through the same Redis channel,
 * so once the barrier arrives anything sent earlier would have arrived too.
 */
async function expectNothingBut(clients: Client[], from: TestUser, forbiddenContent: string) {
  const barrier = `barrier ${crypto.randomUUID()}`;
  await sendMessage(api, from, { content: barrier });
  for (const client of clients) {
    await waitFor(client, 'message', barrier);
    expect(received(client).map((r) => r.message.content)).not.toContain(forbiddenContent);
  }
}

function close(...clients: Client[]) {
  for (const client of clients) {
    if (client.kind === 'io') client.c.socket.close();
    else client.c.ws.close();
  }
}

const senders = ['rest', 'io', 'ws'] as const;
const receivers = ['io', 'ws'] as const;
const cases = senders.flatMap((sender) => receivers.map((receiver) => [sender, receiver] as const));

describe.each(cases)('sent over %s, received over %s on the other gateway', (senderKind, receiverKind) => {
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let bobClient: Client;
  let carolOnG1: Client;
  let carolOnG2: Client;
  let aliceClient: Client | undefined;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([createUser(api), createUser(api), createUser(api)]);
    bobClient = await connect(receiverKind, g2, bob);
    carolOnG1 = await connect('io', g1, carol);
    carolOnG2 = await connect('ws', g2, carol);
    if (senderKind !== 'rest') aliceClient = await connect(senderKind, g1, alice);
  });
  afterAll(() => close(bobClient, carolOnG1, carolOnG2, ...(aliceClient ? [aliceClient] : [])));

  /** Sends as alice over the kind under test; resolves with the stored message. */
  async function send(body: Record<string, unknown>): Promise<{ id: string; content: string }> {
    if (senderKind === 'rest') return sendMessage(api, alice, body);
    if (aliceClient?.kind === 'io') {
      const ack = await emitMessage(aliceClient.c, body);
      expect(ack.ok).toBe(true);
      return ack.message as { id: string; content: string };
    }
    const ws = aliceClient as Extract<Client, { kind: 'ws' }>;
    ws.c.send({ type: 'message', ...body });
    const event = body.recipient ? 'direct_message' : 'message';
    const echo = (await waitFor(ws, event, body.content as string)) as { message: { id: string; content: string } };
    return echo.message;
  }

  const expectFrame = (client: Client, frame: unknown, event: string, stored: object) => {
    // Each delivery carries its resume cursor: in the message for Socket.IO, beside it for plain WS.
    if (client.kind === 'io') expect(frame).toEqual({ ...stored, cursor: expect.stringMatching(CURSOR) as string });
    else expect(frame).toEqual({ type: event, message: stored, cursor: expect.stringMatching(CURSOR) as string });
  };

  it('a global message reaches the receiver and everyone else, in their own framing', async () => {
    const content = `global ${senderKind}->${receiverKind} ${crypto.randomUUID()}`;
    const stored = await send({ content });
    expect(stored).toMatchObject({ content, sender: alice.username, recipient: null, room_id: null });
    expectFrame(bobClient, await waitFor(bobClient, 'message', content), 'message', stored);
    expectFrame(carolOnG1, await waitFor(carolOnG1, 'message', content), 'message', stored);
    expectFrame(carolOnG2, await waitFor(carolOnG2, 'message', content), 'message', stored);
  });

  it('a direct message reaches the recipient and no one else', async () => {
    const content = `dm ${senderKind}->${receiverKind} ${crypto.randomUUID()}`;
    const stored = await send({ content, recipient: bob.username });
    expect(stored).toMatchObject({ content, sender: alice.username, recipient: bob.username, room_id: null });
    expectFrame(bobClient, await waitFor(bobClient, 'direct_message', content), 'direct_message', stored);
    await expectNothingBut([carolOnG1, carolOnG2], alice, content);
  });

  it('a room message reaches members and no one else', async () => {
    const room = await createRoom(api, alice, 'fan-out');
    const added = await api.fetch(`/api/rooms/${room.id}/members/${bob.id}`, { method: 'POST', token: alice.token });
    expect(added.status).toBe(201);
    const content = `room ${senderKind}->${receiverKind} ${crypto.randomUUID()}`;
    const stored = await send({ content, room_id: room.id });
    expect(stored).toMatchObject({ content, sender: alice.username, recipient: null, room_id: room.id });
    expectFrame(bobClient, await waitFor(bobClient, 'message', content), 'message', stored);
    await expectNothingBut([carolOnG1, carolOnG2], alice, content);
  });
});

describe('a user connected on two gateways', () => {
  it('gets a direct message on both connections, once each', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const onG1 = { kind: 'io', c: await connectIo(g1, bob.token) } as const;
    const onG2 = { kind: 'ws', c: await connectWs(g2, bob.token) } as const;
    const content = `twice ${crypto.randomUUID()}`;
    await sendMessage(api, alice, { content, recipient: bob.username });
    await waitFor(onG1, 'direct_message', content);
    await waitFor(onG2, 'direct_message', content);
    await expectNothingBut([onG1, onG2], alice, 'nothing-else');
    expect(received(onG1).filter((r) => r.message.content === content)).toHaveLength(1);
    expect(received(onG2).filter((r) => r.message.content === content)).toHaveLength(1);
    close(onG1, onG2);
  });

  it('the sender of a direct message gets it on all of their own connections too', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const aliceIo = { kind: 'io', c: await connectIo(g1, alice.token) } as const;
    const aliceWs = { kind: 'ws', c: await connectWs(g2, alice.token) } as const;
    const content = `own copy ${crypto.randomUUID()}`;
    const ack = await emitMessage(aliceIo.c, { content, recipient: bob.username });
    expect(ack.ok).toBe(true);
    await waitFor(aliceIo, 'direct_message', content);
    await waitFor(aliceWs, 'direct_message', content);
    close(aliceIo, aliceWs);
  });
});
