import { createCursorCodec, type Feed } from '@chat/shared/chat';
import { createMemoryRouter, rooms, type Delivery, type ServerEvent } from '@chat/shared/events';
import { createLogger } from '@chat/shared/logger';
import { createMetrics } from '@chat/shared/metrics';
import { messageFixture } from '@chat/shared/testing';
import { Connection, type Transport } from '../connection/connection.ts';
import { LocalRooms } from '../connection/local-rooms.ts';
import { LocalTokens } from '../connection/local-tokens.ts';
import { EphemeralOutbox } from '../connection/outbox.ts';
import { SerialQueue } from '../connection/serial.ts';
import { createDeliveryCore, type DeliveryCore } from './index.ts';

/*
 * The delivery core's fast test bench: the in-memory router, a message log in
 * memory, and connections that record what they are sent. Nothing here
 * touches PostgreSQL, Redis or a socket.
 */

/** The commit-ordered log, in memory: what the core reads when frames were lost or a registration was forgotten. */
export function createMemoryLog() {
  const entries: Delivery[] = [];
  const feed = {
    cursors: createCursorCodec('delivery-core-tests'),
    numberStale: () => Promise.resolve(),
    head: () => Promise.resolve(entries.at(-1)?.seq ?? 0),
    after: (seq: number, limit: number) => Promise.resolve(entries.filter((d) => d.seq > seq).slice(0, limit)),
    roomAfter: (roomId: string, after: number, upTo: number, limit: number) =>
      Promise.resolve(entries.filter((d) => d.seq > after && d.seq <= upTo && d.rooms.includes(rooms.room(roomId))).slice(0, limit)),
  } as Partial<Feed> as Feed;
  return {
    feed,
    entries,
    /** Commits a message to `to` (rooms) and returns it, numbered; routing it is up to the caller. */
    commit(to: string[], content: string): Delivery {
      const seq = (entries.at(-1)?.seq ?? 0) + 1;
      const message = messageFixture({ id: `m${seq}`, sender: 's', content });
      const delivery: Delivery = { rooms: to, event: 'message', seq, message };
      entries.push(delivery);
      return delivery;
    },
  };
}

const recording: Transport = {
  kind: 'websocket',
  broadcast(connections, event) {
    for (const conn of connections) conn.send(event);
    return connections.length;
  },
};

/** A connection that keeps what it is sent. */
export class RecordingConnection extends Connection {
  readonly transport = recording;
  readonly events: ServerEvent[] = [];
  open = true;

  constructor(userId: string, joins: string[]) {
    const claims = { id: userId, username: userId, jti: `${userId}-token`, iat: 0, exp: Number.MAX_SAFE_INTEGER };
    super({ claims, rooms: joins, since: undefined }, new SerialQueue(10, () => {}));
  }

  /** The contents of the messages received, in order. */
  get contents(): string[] {
    return this.events.flatMap((e) => (e.event === 'message' || e.event === 'direct_message' ? [e.data.message.content] : []));
  }

  isOpen = () => this.open;
  send(event: ServerEvent) {
    this.events.push(event);
  }
  drained = () => Promise.resolve();
  close() {
    this.open = false;
  }
  greet() {}
}

export type MemoryRouter = ReturnType<typeof createMemoryRouter>;

/** One gateway's delivery core on the in-memory router, with its connections' room index. */
export async function startCore(router: MemoryRouter, log: ReturnType<typeof createMemoryLog>, gatewayId = 'gw-1') {
  const local = new LocalRooms<Connection>();
  const tokens = new LocalTokens();
  const metrics = createMetrics({ service: 'test', enabled: false });
  // Not started: a test flushes it when it wants the ephemeral events sent.
  const outbox = new EphemeralOutbox({ intervalMs: 1_000, metrics });
  const core: DeliveryCore = createDeliveryCore({
    router,
    gatewayId,
    feed: log.feed,
    local,
    tokens,
    outbox,
    timing: { gapWaitMs: 20, pollIntervalMs: 10, leaseMs: 60_000 },
    logger: createLogger({ level: 'silent', service: 'test' }),
    metrics,
  });
  await core.start();
  return {
    core,
    local,
    outbox,
    metrics,
    /** Opens a connection of `userId` in `joins` the way the lifecycle does: rooms routed here first, then live. */
    async connect(userId: string, joins: string[]): Promise<RecordingConnection> {
      const conn = new RecordingConnection(userId, [rooms.user(userId), ...joins]);
      await core.open(conn.rooms, (release) => conn.whenClosed(release));
      tokens.add(conn);
      local.joinAll(conn);
      conn.live = true;
      return conn;
    },
    stop: () => core.stop(),
  };
}
