import type { GatewayConfig } from '@chat/shared/config';
import { clientCommands, type Ack, type CommandName, type ServerEvent } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import { INTERNAL_ERROR } from '@chat/shared/presenters';
import { Connection, type Admitted, type Transport } from '../connection/connection.ts';
import type { CommandResult, Lifecycle } from '../connection/lifecycle.ts';
import { SerialQueue } from '../connection/serial.ts';
import { cutOff, packetBytes, type EngineSocket } from './slow-consumer.ts';
import type { ChatServer, ChatSocket } from './socketio-types.ts';

/** Anything that emits to Socket.IO clients: a socket, or a broadcast to some. */
interface Emitter {
  emit(event: string, payload: unknown): unknown;
}

/**
 * Emits a server event by its name. The seed's two message events carry the
 * message itself plus its cursor; every other event carries its payload.
 */
function emit(to: Emitter, e: ServerEvent) {
  if (e.event === 'message' || e.event === 'direct_message') to.emit(e.event, { ...e.data.message, cursor: e.data.cursor });
  else to.emit(e.event, e.data);
}

/** Socket.IO's typed emitters, seen through the one signature `emit` needs: the event catalog types the payloads. */
const untyped = (emitter: object) => emitter as Emitter;

class IoConnection extends Connection {
  readonly transport: IoTransport;
  readonly socket: ChatSocket;
  /** Bytes Engine.IO queued for the client since its queue last emptied (-Infinity once cut off). */
  #unsent = 0;
  /** Packets queued since then. */
  #queued = 0;

  constructor(transport: IoTransport, socket: ChatSocket, admitted: Admitted, queue: SerialQueue) {
    super(admitted, queue);
    this.transport = transport;
    this.socket = socket;
  }

  isOpen(): boolean {
    return this.socket.connected;
  }

  send(event: ServerEvent): void {
    emit(untyped(this.socket), event);
  }

  /**
   * Resolves once Engine.IO has handed everything queued to the transport, or
   * the socket is gone. Engine.IO emits `drain` only when it flushes a
   * non-empty buffer, so with nothing queued since the last one (a page that
   * went out in one flush, while the transport is still writing it) this does
   * not wait: no drain would come until the next heartbeat.
   */
  drained(): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve) => {
      if (socket.disconnected || this.#queued === 0) return void setImmediate(resolve);
      const done = () => {
        socket.conn.off('drain', done);
        socket.off('disconnect', done);
        resolve();
      };
      socket.conn.on('drain', done);
      socket.once('disconnect', done);
    });
  }

  /** Socket.IO has no close codes: an `error` event sent before says why, when the client can act on it. */
  close(): void {
    this.socket.disconnect(true);
  }

  /** A client that did not resume learns its resume point from `resumed`; a resuming one after its replay. */
  greet(cursor: string | undefined): void {
    if (cursor !== undefined) this.send({ event: 'resumed', data: { cursor, replayed: 0 } });
  }

  /** Engine.IO handed its queue to the transport. */
  emptied(): void {
    this.#queued = 0;
    if (this.#unsent !== Number.NEGATIVE_INFINITY) this.#unsent = 0;
  }

  /** Engine.IO queued a packet: a client that lets more than the cap pile up is cut off (slow-consumer.ts). */
  queued(packet: { data?: unknown }): void {
    this.#queued++;
    this.#unsent += packetBytes(packet);
    if (this.#unsent <= this.transport.maxBufferedBytes) return;
    this.transport.logger.warn({ userId: this.claims.id, unsent: this.#unsent }, 'cut off a client too slow to read');
    this.#unsent = Number.NEGATIVE_INFINITY; // once
    cutOff(this.socket.conn);
  }
}

class IoTransport implements Transport {
  readonly kind = 'socketio';
  readonly #io: ChatServer;
  readonly maxBufferedBytes: number;
  readonly logger: Logger;

  constructor(io: ChatServer, maxBufferedBytes: number, logger: Logger) {
    this.#io = io;
    this.maxBufferedBytes = maxBufferedBytes;
    this.logger = logger;
  }

  /** Every socket is in the room of its own id: one broadcast to those encodes the packet once for all. */
  broadcast(connections: readonly Connection[], event: ServerEvent): number {
    // Grouped by transport (connection.ts broadcast): every one of these is ours.
    const ids = (connections as readonly IoConnection[]).map((conn) => conn.socket.id);
    emit(untyped(this.#io.local.to(ids)), event);
    return ids.length;
  }
}

const COMMANDS = Object.keys(clientCommands) as CommandName[];

/** The command's acknowledgement when the emit asked for one; otherwise an error is an `error` event. */
const answer = (socket: ChatSocket, ack: unknown) => (result: CommandResult) => {
  const reply = typeof ack === 'function' ? (ack as Ack) : undefined;
  if (result.ok) reply?.({ ok: true, ...result.reply });
  else if (reply) reply({ ok: false, ...result.error });
  else socket.emit('error', result.error);
};

/**
 * The connection of each socket and of its Engine.IO session, for listeners
 * that every connection shares (`this` is the emitter): an idle connection
 * should cost little more than Socket.IO's own socket.
 */
const connectionOf = new WeakMap<ChatSocket | EngineSocket, IoConnection>();

function onDrain(this: EngineSocket) {
  connectionOf.get(this)?.emptied();
}

function onPacket(this: EngineSocket, packet: { data?: unknown }) {
  connectionOf.get(this)?.queued(packet);
}

/**
 * Socket.IO, a codec over the connection lifecycle: the handshake is a
 * middleware (a refusal is a `connect_error` carrying the error's code), each
 * client command an event with an acknowledgement.
 */
export function attachSocketIo(io: ChatServer, deps: { lifecycle: Lifecycle; limits: GatewayConfig['socketio']; logger: Logger }) {
  const { lifecycle, limits, logger } = deps;
  const transport = new IoTransport(io, limits.maxBufferedBytes, logger);
  const onTaskError = (error: unknown) => logger.error({ err: error }, 'a socket.io task failed');

  // One listener per command and one for the close, shared by every socket.
  const commandListeners = COMMANDS.map((name) => {
    function onCommand(this: ChatSocket, input: unknown, ack?: unknown) {
      const conn = connectionOf.get(this);
      if (conn) lifecycle.command(conn, name, input, answer(this, ack));
    }
    return [name, onCommand] as const;
  });
  function onDisconnect(this: ChatSocket, reason: string) {
    const conn = connectionOf.get(this);
    if (conn) lifecycle.closed(conn, { reason });
  }

  io.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown; since?: unknown } | undefined;
    const since = auth?.since;
    lifecycle
      .admit({
        req: socket.request,
        authPayload: auth?.token,
        // A non-string cursor is refused by the same rule as a malformed one.
        cursor: since == null ? undefined : typeof since === 'string' ? since : '',
        // Held until the transport closes, whether or not the connection is ever established.
        onTransportClose: (release) => socket.conn.once('close', release),
      })
      .then((admission) => {
        if (admission.ok) {
          socket.data.admitted = { claims: admission.claims, rooms: admission.rooms, since: admission.since };
          return next();
        }
        const { error: message, code, retry_after } = admission.error;
        next(Object.assign(new Error(message), { data: { code, ...(retry_after === undefined ? {} : { retry_after }) } }));
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'accepting a socket.io connection failed');
        next(Object.assign(new Error(INTERNAL_ERROR.error), { data: { code: INTERNAL_ERROR.code } }));
      });
  });

  io.on('connection', (socket) => {
    const { admitted } = socket.data;
    if (!admitted) return void socket.disconnect(true); // not through the middleware: cannot happen
    // The connection holds what the handshake established from here on.
    delete socket.data.admitted;
    const conn = new IoConnection(transport, socket, admitted, new SerialQueue(limits.maxQueuedMessages, onTaskError));
    connectionOf.set(socket, conn);
    connectionOf.set(socket.conn, conn);
    socket.conn.on('drain', onDrain);
    socket.conn.on('packetCreate', onPacket);
    for (const [name, listener] of commandListeners) socket.on(name, listener);
    socket.on('disconnect', onDisconnect);
    lifecycle.accept(conn);
  });
}
