import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, sendMessage } from '../../api/test/harness.ts';
import { connectIo, startTwoGateways, watchGateway } from './harness.ts';

// Found by the fault suite (scripts/faults): a Socket.IO resume whose replay
// page had been handed to the transport in one flush waited for a 'drain' that
// Engine.IO only emits when it flushes a non-empty buffer, so the client got
// neither `resumed` nor live messages until the next heartbeat ping (25 s).

let cluster: Awaited<ReturnType<typeof startTwoGateways>>;

beforeAll(async () => {
  cluster = await startTwoGateways();
});
afterAll(() => cluster.close());

describe('resuming Socket.IO with a single missed message', () => {
  it.each([['websocket'], ['polling']] as const)('says resumed at once and goes live (%s)', async (transport) => {
    const { api } = cluster;
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const first = await connectIo(cluster.g1, bob.token, { transports: [transport] });
    const start = await first.inbox.next((e) => e.event === 'resumed', 'the first resumed event');
    first.socket.close();

    const g2 = await watchGateway(cluster.g2, alice);
    const missed = await sendMessage(api, alice, { content: 'the one missed message', recipient: bob.username });
    await g2.applied(missed.id);
    g2.close();
    const second = await connectIo(cluster.g2, bob.token, { since: start.payload.cursor, transports: [transport] });
    await second.inbox.next((e) => e.payload.id === missed.id, 'the replayed message', 2_000);
    const resumed = await second.inbox.next((e) => e.event === 'resumed', 'the resumed event', 2_000);
    expect(resumed.payload.replayed).toBe(1);

    const live = await sendMessage(api, alice, { content: 'live after resume', recipient: bob.username });
    await second.inbox.next((e) => e.payload.id === live.id, 'the live message', 2_000);
    second.socket.close();
  });
});
