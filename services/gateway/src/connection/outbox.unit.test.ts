import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PresenceChange, ServerEvent } from '@chat/shared/events';
import { createMetrics } from '@chat/shared/metrics';
import { metricSample } from '@chat/shared/testing';
import { RecordingConnection } from '../delivery/testing.ts';
import type { Transport } from './connection.ts';
import { EphemeralOutbox } from './outbox.ts';

// The per-connection coalescing of ephemeral events (presence): what a
// connection is sent at each flush, and what the ticker costs.

const change = (user: string, status: PresenceChange['status']): PresenceChange => ({ user_id: user, username: `name-${user}`, status });
const presenceOf = (conn: RecordingConnection) => conn.events.flatMap((e) => (e.event === 'presence' ? [`${e.data.user_id}:${e.data.status}`] : []));

function setUp(intervalMs = 1_000) {
  const metrics = createMetrics({ service: 'test', enabled: false });
  const outbox = new EphemeralOutbox({ intervalMs, metrics });
  const sample = async (name: string, labels: Record<string, string>) => metricSample(await metrics.registry.metrics(), name, labels) ?? 0;
  return { outbox, metrics, sample };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the ephemeral outbox', () => {
  it('sends nothing before a flush, then each pending change once', () => {
    const { outbox } = setUp();
    const a = new RecordingConnection('a', []);
    const b = new RecordingConnection('b', []);
    outbox.add([a, b], 'presence', change('u1', 'online'));
    outbox.add([a], 'presence', change('u2', 'online'));
    expect(a.events).toEqual([]);
    expect(outbox.waiting).toBe(2);
    outbox.flush();
    expect(presenceOf(a)).toEqual(['u1:online', 'u2:online']);
    expect(presenceOf(b)).toEqual(['u1:online']);
    expect(outbox.waiting).toBe(0);
    outbox.flush();
    expect(presenceOf(a)).toEqual(['u1:online', 'u2:online']);
  });

  it('collapses the same change reaching a connection through several rooms or frames into one', async () => {
    const { outbox, sample } = setUp();
    const a = new RecordingConnection('a', []);
    const online = change('u1', 'online');
    // Once per frame: the router sends a gateway one frame per call, with all its rooms.
    outbox.add([a], 'presence', online);
    outbox.add([a], 'presence', { ...online });
    outbox.flush();
    expect(presenceOf(a)).toEqual(['u1:online']);
    expect(await sample('chat_ephemeral_coalesced_total', { event: 'presence' })).toBe(1);
    expect(await sample('chat_ephemeral_sent_total', { event: 'presence', kind: 'websocket' })).toBe(1);
  });

  it("sends a user's several changes within one interval as the last one: a flap arrives as its final state", () => {
    const { outbox } = setUp();
    const a = new RecordingConnection('a', []);
    outbox.add([a], 'presence', change('u1', 'online'));
    outbox.add([a], 'presence', change('u1', 'offline'));
    outbox.add([a], 'presence', change('u1', 'online'));
    outbox.add([a], 'presence', change('u2', 'offline'));
    outbox.flush();
    expect(presenceOf(a)).toEqual(['u1:online', 'u2:offline']);
    // The next interval starts afresh.
    outbox.add([a], 'presence', change('u1', 'offline'));
    outbox.flush();
    expect(presenceOf(a)).toEqual(['u1:online', 'u2:offline', 'u1:offline']);
  });

  it('keeps each connection to what it was addressed: coalescing on one does not touch another', () => {
    const { outbox } = setUp();
    const early = new RecordingConnection('early', []);
    const late = new RecordingConnection('late', []);
    outbox.add([early], 'presence', change('u1', 'online'));
    outbox.add([early, late], 'presence', change('u1', 'offline'));
    outbox.add([early], 'presence', change('u2', 'online'));
    outbox.flush();
    expect(presenceOf(early)).toEqual(['u1:offline', 'u2:online']);
    expect(presenceOf(late)).toEqual(['u1:offline']);
  });

  it('encodes each change once for all the connections it goes to, per transport', () => {
    const { outbox } = setUp();
    const calls: Array<{ to: string[]; event: ServerEvent }> = [];
    const counting: Transport = {
      kind: 'socketio',
      broadcast(connections, event) {
        calls.push({ to: connections.map((c) => c.claims.id), event });
        return connections.length;
      },
    };
    const conns = ['a', 'b', 'c'].map((id) => Object.assign(new RecordingConnection(id, []), { transport: counting }));
    const shared = change('u1', 'online');
    outbox.add(conns, 'presence', shared);
    outbox.add([conns[0] as RecordingConnection], 'presence', change('u2', 'online'));
    outbox.flush();
    expect(calls).toEqual([
      { to: ['a', 'b', 'c'], event: { event: 'presence', data: shared } },
      { to: ['a'], event: { event: 'presence', data: change('u2', 'online') } },
    ]);
  });

  it('skips connections that closed before the flush, and forgets them', () => {
    const { outbox } = setUp();
    const gone = new RecordingConnection('gone', []);
    outbox.add([gone], 'presence', change('u1', 'online'));
    gone.open = false;
    outbox.flush();
    expect(gone.events).toEqual([]);
    expect(outbox.waiting).toBe(0);
  });

  it('flushes on one ticker at the interval, at most once per interval per connection, and drops what is pending when stopped', () => {
    vi.useFakeTimers();
    const { outbox } = setUp(1_000);
    const a = new RecordingConnection('a', []);
    outbox.start();
    outbox.add([a], 'presence', change('u1', 'online'));
    vi.advanceTimersByTime(999);
    expect(presenceOf(a)).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(presenceOf(a)).toEqual(['u1:online']);
    // Changes right after a flush wait for the next tick, however many.
    for (let i = 0; i < 10; i++) outbox.add([a], 'presence', change('u1', i % 2 === 0 ? 'offline' : 'online'));
    vi.advanceTimersByTime(500);
    expect(presenceOf(a)).toEqual(['u1:online']);
    vi.advanceTimersByTime(500);
    expect(presenceOf(a)).toEqual(['u1:online', 'u1:online']);
    expect(vi.getTimerCount()).toBe(1);
    outbox.add([a], 'presence', change('u1', 'offline'));
    outbox.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(presenceOf(a)).toEqual(['u1:online', 'u1:online']);
    expect(outbox.waiting).toBe(0);
  });
});
