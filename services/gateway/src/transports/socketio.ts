import type { GatewayConfig } from '@chat/shared/config';
import { clientCommands, type Ack, type CommandName, type ServerEvent } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import { INTERNAL_ERROR } from '@chat/shared/presenters';
import { Connection, type Admitted, type Transport } from '../connection/connection.ts';
import type { CommandResult, Lifecycle } from '../connection/lifecycle.ts';
import { SerialQueue } from '../connection/serial.ts';
import { EngineOutbox } from './slow-consumer.ts';
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
  readonly #outbox: EngineOutbox;

  constructor(transport: IoTransport, socket: ChatSocket, admitted: Admitted, queue: SerialQueue, outbox: EngineOutbox) {
    super(admitted, queue);
    this.transport = transport;
    this.socket = socket;
    this.#outbox = outbox;
  }

  isOpen(): boolean {
    return this.socket.connected;
  }

  send(event: ServerEvent): void {
    emit(untyped(this.socket), event);
  }

  drained(): Promise<void> {
    return this.#outbox.drained();
  }

  /** Socket.IO has no close codes: an `error` event sent before says why, when the client can act on it. */
  close(): void {
    this.socket.disconnect(true);
  }

  /** A client that did not resume learns its resume point from `resumed`; a resuming one after its replay. */
  greet(cursor: string | undefined): void {
    if (cursor !== undefined) this.send({ event: 'resumed', data: { cursor, replayed: 0 } });
  }
}

class IoTransport implements Transport {
  readonly kind = 'socketio';
  readonly #io: ChatServer;

  constructor(io: ChatServer) {
    this.#io = io;
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
 * Socket.IO, a codec over the connection lifecycle: the handshake is a
 * middleware (a refusal is a `connect_error` carrying the error's code), each
 * client command an event with an acknowledgement.
 */
export function attachSocketIo(io: ChatServer, deps: { lifecycle: Lifecycle; limits: GatewayConfig['socketio']; logger: Logger }) {
  const { lifecycle, limits, logger } = deps;
  const transport = new IoTransport(io);
  const onTaskError = (error: unknown) => logger.error({ err: error }, 'a socket.io task failed');

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
    const queue = new SerialQueue(limits.maxQueuedMessages, onTaskError);
    const conn = new IoConnection(transport, socket, socket.data.admitted, queue, new EngineOutbox(socket, limits.maxBufferedBytes, logger));
    for (const name of COMMANDS) socket.on(name, (input: unknown, ack?: unknown) => lifecycle.command(conn, name, input, answer(socket, ack)));
    socket.on('disconnect', (reason) => lifecycle.closed(conn, { reason }));
    lifecycle.accept(conn);
  });
}
