import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { metricSample } from '@chat/shared/testing';
import { createUser, sendMessage, startApi, type TestApi } from '../../api/test/harness.ts';
import { connectIo, connectWs, emitMessage, startGateway, type TestGateway } from './harness.ts';

let api: TestApi;
let gw: TestGateway;
beforeAll(async () => {
  api = await startApi();
  // A backlog of two is too large to replay: one resume replays, the next is told to reload.
  gw = await startGateway(api.config.redis.prefix, { RESUME_MAX_BACKLOG: '1' });
});
afterAll(async () => {
  await gw.close();
  await api.close();
});

async function scrape(): Promise<string> {
  const res = await fetch(gw.metricsUrl);
  expect(res.status).toBe(200);
  return res.text();
}

/** The summed value of every sample of `name` whose labels include `labels`; 0 when there is none. */
const sample = (text: string, name: string, labels: Record<string, string> = {}) => metricSample(text, name, labels) ?? 0;

/** Opens the plain endpoint with a cursor that will be refused, and waits for the close. */
function refusedCursor(token: string): Promise<void> {
  const url = new URL('/api/ws/connect', gw.url.replace('http', 'ws'));
  url.searchParams.set('token', token);
  url.searchParams.set('since', 'garbage');
  const ws = new WebSocket(url);
  return new Promise((resolve) => {
    ws.once('error', () => resolve());
    ws.once('close', () => resolve());
  });
}

describe('the gateway metrics endpoint', () => {
  it('serves every family on its own port, and they move', async () => {
    const [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
    const before = await scrape();
    const bobWs = await connectWs(gw, bob.token);
    const bobIo = await connectIo(gw, bob.token);
    const aliceIo = await connectIo(gw, alice.token);
    const aliceWs = await connectWs(gw, alice.token);
    const open = await scrape();
    expect(sample(open, 'chat_socket_connections', { kind: 'websocket' }) - sample(before, 'chat_socket_connections', { kind: 'websocket' })).toBe(2);
    expect(sample(open, 'chat_socket_connections', { kind: 'socketio' }) - sample(before, 'chat_socket_connections', { kind: 'socketio' })).toBe(2);

    // One message per transport, each to bob, who is connected once per kind.
    const viaIo = await emitMessage(aliceIo, { content: 'over socket.io', recipient: bob.username, client_msg_id: 'metrics-io' });
    expect(viaIo.ok).toBe(true);
    expect((await emitMessage(aliceIo, { content: 'over socket.io', recipient: bob.username, client_msg_id: 'metrics-io' })).ok).toBe(true);
    aliceWs.send({ type: 'message', content: 'over websocket', recipient: bob.username, client_msg_id: 'metrics-ws' });
    await aliceWs.inbox.next((f) => f.type === 'ack', 'the ack');
    const viaRest = await sendMessage(api, alice, { content: 'over rest', recipient: bob.username });
    const last = await bobWs.inbox.next((f) => f.message?.id === viaRest.id, 'the REST message');
    await bobIo.inbox.next((e) => e.payload.id === viaRest.id, 'the REST message over socket.io');

    const sent = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => sample(sent, name, labels) - sample(before, name, labels);
    // The repeated client_msg_id is not counted; REST sends are the API's to count.
    expect(moved('chat_messages_stored_total', { transport: 'socketio' })).toBe(1);
    expect(moved('chat_messages_stored_total', { transport: 'websocket' })).toBe(1);
    expect(moved('chat_messages_stored_total', { transport: 'rest' })).toBe(0);
    // Three DMs, each delivered to bob's two connections and alice's two (the sender's rooms get it too).
    expect(moved('chat_deliveries_total', { kind: 'websocket' })).toBeGreaterThanOrEqual(3);
    expect(moved('chat_deliveries_total', { kind: 'socketio' })).toBeGreaterThanOrEqual(3);
    // One latency sample per message and kind, not per connection.
    expect(moved('chat_delivery_latency_seconds_count', { kind: 'websocket' })).toBe(3);
    expect(moved('chat_delivery_latency_seconds_count', { kind: 'socketio' })).toBe(3);
    expect(moved('chat_delivery_latency_seconds_bucket', { kind: 'websocket', le: '+Inf' })).toBe(3);

    // Resumes: one replayed message, then a backlog too large (reload), then a forged cursor (refused).
    bobWs.ws.terminate();
    await bobWs.closed;
    const missed = await sendMessage(api, alice, { content: 'while away', recipient: bob.username });
    const resumed = await connectWs(gw, bob.token, { since: String(last.cursor) });
    await resumed.inbox.next((f) => f.type === 'resumed', 'the resumed frame');
    const position = await resumed.inbox.next((f) => f.message?.id === missed.id, 'the replayed message');
    resumed.ws.terminate();
    await resumed.closed;
    await sendMessage(api, alice, { content: 'away 1', recipient: bob.username });
    await sendMessage(api, alice, { content: 'away 2', recipient: bob.username });
    const reloaded = await connectWs(gw, bob.token, { since: String(position.cursor) });
    await reloaded.inbox.next((f) => f.type === 'reload', 'the reload frame');
    await refusedCursor(bob.token);

    for (const c of [bobIo, aliceIo]) c.socket.close();
    for (const c of [aliceWs, reloaded]) c.ws.close();
    const after = await vi.waitFor(
      async () => {
        const text = await scrape();
        for (const kind of ['websocket', 'socketio']) {
          expect(sample(text, 'chat_socket_connections', { kind }), `${kind} connections`).toBe(sample(before, 'chat_socket_connections', { kind }));
        }
        return text;
      },
      { timeout: 5_000 },
    );
    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('chat_resumes_total', { outcome: 'resumed' })).toBe(1);
    expect(delta('chat_resumes_total', { outcome: 'reload' })).toBe(1);
    expect(delta('chat_resumes_total', { outcome: 'refused' })).toBe(1);
    expect(after).toContain('# TYPE chat_resumes_total counter');
    expect(delta('chat_replayed_messages_total')).toBe(1);
    expect(sample(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(after).toContain('nodejs_eventloop_lag_seconds');
    expect(after).toContain('# TYPE chat_dependency_errors_total counter');
    // Bounded labels: no user name or id anywhere.
    for (const value of [alice.username, alice.id, bob.username, bob.id]) expect(after).not.toContain(value);
  });
});

describe('nginx', () => {
  it('has no location that proxies to a metrics port', () => {
    const conf = readFileSync(new URL('../../../nginx.conf', import.meta.url), 'utf8');
    expect(conf).not.toMatch(/:910[01]\b/);
    expect(conf).not.toMatch(/location[^{]*metrics/);
  });
});
