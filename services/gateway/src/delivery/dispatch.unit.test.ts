import { describe, expect, it } from 'vitest';
import type { Feed } from '@chat/shared/chat';
import { rooms, type Frame } from '@chat/shared/events';
import { createLogger } from '@chat/shared/logger';
import { createMetrics } from '@chat/shared/metrics';
import type { Connection } from '../connection/connection.ts';
import { LocalRooms } from '../connection/local-rooms.ts';
import { LocalTokens, type TokenHolder } from '../connection/local-tokens.ts';
import { createDispatch } from './dispatch.ts';
import { createLocalFanout } from './fanout.ts';
import { createStream } from './stream.ts';

const logger = createLogger({ level: 'silent', service: 'test' });

/** A connection of user `u1` that has not gone live yet (its re-check or resume is running). */
function pendingConnection(initial: string[]) {
  const closers: Array<() => void> = [];
  const holder: TokenHolder = {
    claims: { id: 'u1', username: 'one', jti: 'j', iat: 0, exp: 0 },
    rooms: initial,
    live: false,
    revoke: () => {},
    whenClosed: (listener: () => void) => closers.push(listener),
  };
  return { holder, close: () => closers.forEach((c) => c()) };
}

function setUp() {
  const feed = { head: () => Promise.resolve(0), after: () => Promise.resolve([]), roomAfter: () => Promise.resolve([]) } as unknown as Feed;
  const metrics = createMetrics({ service: 'test', enabled: false });
  const local = new LocalRooms<Connection>();
  const fanout = createLocalFanout({ rooms: local, feed, metrics });
  const stream = createStream({ feed, logger, apply: (d) => fanout.deliver(d) });
  const tokens = new LocalTokens();
  const pinned = new Map<string, number>();
  const adopt = (room: string) => {
    pinned.set(room, (pinned.get(room) ?? 0) + 1);
    return () => pinned.set(room, (pinned.get(room) ?? 0) - 1);
  };
  const onFrame = createDispatch({ stream, fanout, local, tokens, registered: { adopt }, feed, logger, metrics });
  const membership = (action: 'join' | 'leave', g: number): Frame => ({
    g,
    next: 1,
    event: 'membership',
    data: { action, userId: 'u1', roomId: 'r1', logHead: 0 },
  });
  return { tokens, onFrame, pinned, membership };
}

describe('a membership change for a connection that is not live yet', () => {
  it('goes into the rooms it will join, keeping a joined room routed here until it closes', async () => {
    const { tokens, onFrame, pinned, membership } = setUp();
    const conn = pendingConnection([rooms.global, rooms.user('u1')]);
    tokens.add(conn.holder);
    onFrame(membership('join', 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(conn.holder.rooms).toEqual([rooms.global, rooms.user('u1'), rooms.room('r1')]);
    // One pin for the join's own step (released once it ran: nobody live to join), one for the pending connection.
    expect(pinned.get(rooms.room('r1'))).toBe(1);
    conn.close();
    expect(pinned.get(rooms.room('r1'))).toBe(0);

    onFrame(membership('leave', 2));
    expect(conn.holder.rooms).toEqual([rooms.global, rooms.user('u1')]);
  });

  it("leaves a live connection's list alone: the room is joined directly", () => {
    const { tokens, onFrame, pinned, membership } = setUp();
    const conn = pendingConnection([rooms.global, rooms.user('u1')]);
    tokens.add({ ...conn.holder, live: true });
    onFrame(membership('join', 1));
    expect(conn.holder.rooms).toEqual([rooms.global, rooms.user('u1')]);
    // Only the join step's own pin, released once the step ran; nothing waits for this connection.
    expect(pinned.get(rooms.room('r1'))).toBe(0);
  });
});
