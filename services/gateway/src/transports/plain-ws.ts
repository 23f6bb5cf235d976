import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { GatewayConfig } from '@chat/shared/config';
import type { PlainServerFrame, ServerEvent } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import { HTTP_STATUS, retryAfterSeconds, type ErrorBody } from '@chat/shared/presenters';
import { Connection, type Admitted, type CloseReason, type Transport } from '../connection/connection.ts';
import type { CommandResult, Lifecycle } from '../connection/lifecycle.ts';
import { SerialQueue } from '../connection/serial.ts';
import { CloseCode } from './close-codes.ts';
import { parseInbound } from './plain-ws-frames.ts';

export const PLAIN_WS_PATH = '/api/ws/connect';

const CLOSE_CODE: Record<CloseReason, number> = {
  token_revoked: CloseCode.TOKEN_REVOKED,
  token_expired: CloseCode.TOKEN_EXPIRED,
  try_again: CloseCode.TRY_AGAIN_LATER,
  going_away: CloseCode.GOING_AWAY,
};

/** The seed's frame for every server event: its name as `type`, its payload beside it. */
const encode = (e: ServerEvent): string => JSON.stringify({ type: e.event, ...e.data });

/**
 * One open plain WebSocket. Its event handlers are shared by all connections
 * (they find it through `connectionOf`) rather than closures per connection:
 * an idle connection should cost little more than the socket itself.
 */
class PlainConnection extends Connection {
  readonly transport: PlainTransport;
  readonly ws: WebSocket;
  lastPong = Date.now();

  constructor(transport: PlainTransport, ws: WebSocket, admitted: Admitted, queue: SerialQueue) {
    super(admitted, queue);
    this.transport = transport;
    this.ws = ws;
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(event: ServerEvent): void {
    this.write(encode(event));
  }

  write(text: string): void {
    if (this.isOpen()) this.ws.send(text);
  }

  /**
   * A ping is written after every frame queued before it, and its callback
   * runs once it has left for the kernel (or at once, with an error, when the
   * socket is closed): a replay that waits for it holds at most one page in
   * this process, however slowly the client reads.
   */
  drained(): Promise<void> {
    return new Promise((resolve) => this.ws.ping(undefined, undefined, () => resolve()));
  }

  close(reason: CloseReason, text: string): void {
    this.ws.close(CLOSE_CODE[reason], text);
  }

  greet(cursor: string | undefined): void {
    const { claims } = this;
    const hello: PlainServerFrame = { type: 'connection', status: 'connected', user_id: claims.id, username: claims.username };
    // A resuming client gets its cursor from `resumed` or `reload` instead.
    this.write(JSON.stringify(cursor === undefined ? hello : { ...hello, cursor }));
  }
}

class PlainTransport implements Transport {
  readonly kind = 'websocket';
  readonly #maxBufferedBytes: number;
  readonly #logger: Logger;

  constructor(maxBufferedBytes: number, logger: Logger) {
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#logger = logger;
  }

  broadcast(connections: readonly Connection[], event: ServerEvent): number {
    const text = encode(event);
    let sent = 0;
    // Grouped by transport (connection.ts broadcast): every one of these is ours.
    for (const conn of connections as readonly PlainConnection[]) {
      if (!conn.isOpen()) continue;
      // A client this far behind on reading is cut off at once: it would not
      // answer a close handshake either, and nobody else may wait for it.
      if (conn.ws.bufferedAmount > this.#maxBufferedBytes) {
        this.#logger.warn({ userId: conn.claims.id, buffered: conn.ws.bufferedAmount }, 'cut off a client too slow to read');
        conn.ws.terminate();
        continue;
      }
      conn.write(text);
      sent++;
    }
    return sent;
  }
}

const connectionOf = new WeakMap<WebSocket, PlainConnection>();

export interface PlainWsEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

/**
 * At module scope on purpose: a closure made inside handleUpgrade would share
 * that call's context (the request with its headers and token) and keep it
 * alive as long as the socket lives, about 3 KB per idle connection.
 */
function destroyOnError(this: Duplex) {
  this.destroy();
}

/** Refuses an upgrade with a plain HTTP answer: the status that the error's code stands for. */
function reject(socket: Duplex, error: ErrorBody) {
  const status = HTTP_STATUS[error.code];
  const body = JSON.stringify(error);
  const retryAfter = retryAfterSeconds(error);
  const retryHeader = retryAfter === undefined ? '' : `Retry-After: ${retryAfter}\r\n`;
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retryHeader}Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * The seed-compatible endpoint, a codec over the connection lifecycle: one
 * JSON object per text frame, both ways, plus the seed's `ping`/`pong` and
 * the WebSocket's own heartbeat.
 */
export function createPlainWsEndpoint(deps: { lifecycle: Lifecycle; limits: GatewayConfig['websocket']; logger: Logger }): PlainWsEndpoint {
  const { lifecycle, limits, logger } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardLimitBytes });
  const transport = new PlainTransport(limits.maxBufferedBytes, logger);
  // Every open connection, including those still replaying and so in no room yet.
  const connections = new Set<PlainConnection>();
  const onTaskError = (error: unknown) => logger.error({ err: error }, 'a websocket task failed');

  /** The error frame, or the ack when the frame carried a client_msg_id: the sender sees its message through fan-out, as the seed's clients expect. */
  const answer = (conn: PlainConnection, clientMsgId: string | undefined) => (result: CommandResult) => {
    const id = clientMsgId === undefined ? {} : { client_msg_id: clientMsgId };
    if (!result.ok) conn.send({ event: 'error', data: { ...result.error, ...id } });
    else if (clientMsgId !== undefined)
      conn.write(JSON.stringify({ type: 'ack', client_msg_id: clientMsgId, ...result.reply } satisfies PlainServerFrame));
  };

  // The handlers every connection shares; `this` is the connection's WebSocket.
  function onPong(this: WebSocket) {
    const conn = connectionOf.get(this);
    if (conn) conn.lastPong = Date.now();
  }
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
    const conn = connectionOf.get(this);
    if (!conn) return;
    const inbound = parseInbound(data, isBinary, limits.maxMessageBytes);
    if (inbound.type === 'invalid') return conn.send({ event: 'error', data: inbound.error });
    if (inbound.type === 'ping') return conn.write(JSON.stringify({ type: 'pong', status: 'ok' } satisfies PlainServerFrame));
    lifecycle.command(conn, inbound.name, inbound.body, answer(conn, inbound.clientMsgId));
  }
  // `ws` reports protocol errors (such as a frame over maxPayload) here, then closes.
  function onError(this: WebSocket, error: Error) {
    logger.debug({ err: error, userId: connectionOf.get(this)?.claims.id }, 'websocket error');
  }
  function onClose(this: WebSocket, code: number) {
    const conn = connectionOf.get(this);
    if (!conn) return;
    connections.delete(conn);
    lifecycle.closed(conn, { code });
  }

  function accept(ws: WebSocket, admitted: Admitted) {
    const conn = new PlainConnection(transport, ws, admitted, new SerialQueue(limits.maxQueuedMessages, onTaskError));
    connectionOf.set(ws, conn);
    connections.add(conn);
    ws.on('pong', onPong);
    ws.on('message', onMessage);
    ws.on('error', onError);
    ws.on('close', onClose);
    lifecycle.accept(conn);
  }

  /** Accepts the upgrade only to say why the cursor was refused: a browser cannot read a refused handshake. */
  function refuseCursor(req: IncomingMessage, socket: Duplex, head: Buffer, error: ErrorBody) {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ type: 'error', ...error } satisfies PlainServerFrame));
      ws.close(CloseCode.INVALID_CURSOR, 'invalid cursor');
    });
  }

  // Dead peers: anyone who has not answered a ping within the pong wait is dropped.
  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const conn of connections) {
      if (now - conn.lastPong > limits.pongWaitMs) conn.ws.terminate();
      else conn.ws.ping();
    }
  }, limits.pingPeriodMs);
  heartbeat.unref();

  return {
    handleUpgrade(req, socket, head) {
      socket.on('error', destroyOnError);
      const cursor = new URL(req.url ?? '/', 'http://gateway').searchParams.get('since') ?? undefined;
      lifecycle
        // Held until the socket closes, whether or not the upgrade completes.
        .admit({ req, cursor, onTransportClose: (release) => socket.once('close', release) })
        .then((admission) => {
          if (admission.ok) return wss.handleUpgrade(req, socket, head, (ws) => accept(ws, admission));
          if (admission.cursor) return refuseCursor(req, socket, head, admission.error);
          reject(socket, admission.error);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'accepting a websocket failed');
          socket.destroy();
        });
    },

    close() {
      clearInterval(heartbeat);
      for (const conn of connections) conn.close('going_away', 'server shutting down');
      wss.close();
    },
  };
}
