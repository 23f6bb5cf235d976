import type { WebSocket } from 'ws';
import type { Logger } from '@chat/shared/logger';
import type { ChatSocket } from './socketio-types.ts';

/**
 * What Engine.IO has queued for one Socket.IO client and not yet handed to
 * its transport. Engine.IO reports every packet it queues (`packetCreate`) and
 * every time its queue empties (`drain`); what was queued in between is what
 * the client has not taken. A client past `maxBytes` is cut off at once: one
 * that does not read would not answer a close handshake either, and its queue
 * must not grow. A replay waits for the queue to empty (`drained`).
 */
export class EngineOutbox {
  readonly #socket: ChatSocket;
  readonly #maxBytes: number;
  readonly #logger: Logger;
  #unsent = 0;
  #queued = 0;

  constructor(socket: ChatSocket, maxBytes: number, logger: Logger) {
    this.#socket = socket;
    this.#maxBytes = maxBytes;
    this.#logger = logger;
    socket.conn.on('drain', () => this.#onDrain());
    socket.conn.on('packetCreate', (packet: { data?: unknown }) => this.#onPacket(packet));
  }

  /**
   * Resolves once Engine.IO has handed everything queued to the transport, or
   * the socket is gone. Engine.IO emits `drain` only when it flushes a
   * non-empty buffer, so with nothing queued since the last one (a page that
   * went out in one flush, while the transport is still writing it) this does
   * not wait: no drain would come until the next heartbeat.
   */
  drained(): Promise<void> {
    const socket = this.#socket;
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

  #onDrain() {
    this.#queued = 0;
    if (this.#unsent !== Number.NEGATIVE_INFINITY) this.#unsent = 0;
  }

  #onPacket(packet: { data?: unknown }) {
    this.#queued++;
    const data = packet.data;
    this.#unsent += typeof data === 'string' ? data.length : Buffer.isBuffer(data) ? data.byteLength : 0;
    if (this.#unsent <= this.#maxBytes) return;
    this.#logger.warn({ userId: this.#socket.data.admitted.claims.id, unsent: this.#unsent }, 'cut off a client too slow to read');
    this.#unsent = Number.NEGATIVE_INFINITY; // once
    const conn = this.#socket.conn;
    const websocket = websocketOf(conn);
    if (websocket) websocket.terminate();
    else conn.close(true); // polling: the engine lets go of the session at once
  }
}

/**
 * The `ws` socket under a session on the websocket transport, whether it opened
 * there or upgraded from polling. Closing the session instead would start a
 * close handshake whose frame queues behind the unread data: the connection and
 * its buffers would stay until ws's 30 s close timeout. Engine.IO keeps the ws
 * as its transport's `socket` (not in its typings); a websocket-only session
 * also has it on its first request, an upgraded one nowhere else.
 */
function websocketOf(conn: ChatSocket['conn']): Pick<WebSocket, 'terminate'> | undefined {
  const transport = conn.transport as unknown as { name: string; socket?: Partial<WebSocket> };
  if (transport.name !== 'websocket') return undefined;
  const websocket = transport.socket ?? (conn.request as { websocket?: Partial<WebSocket> }).websocket;
  return typeof websocket?.terminate === 'function' ? (websocket as WebSocket) : undefined;
}
