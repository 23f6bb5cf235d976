import type { WebSocket } from 'ws';
import type { Logger } from '@chat/shared/logger';
import type { ChatSocket } from './types.ts';

/**
 * Cuts off a Socket.IO client that stops reading. Engine.IO reports every
 * packet it queues (`packetCreate`) and every time its queue empties
 * (`drain`); what was queued in between is what the client has not taken.
 * Past `maxBytes` the connection is terminated at once: a client that does not
 * read would not answer a close handshake either, and its queue must not grow.
 */
export function guardSlowConsumer(socket: ChatSocket, maxBytes: number, logger: Logger): void {
  let unsent = 0;
  const conn = socket.conn;
  conn.on('drain', () => {
    unsent = 0;
  });
  conn.on('packetCreate', (packet: { data?: unknown }) => {
    const data = packet.data;
    unsent += typeof data === 'string' ? data.length : Buffer.isBuffer(data) ? data.byteLength : 0;
    if (unsent <= maxBytes) return;
    logger.warn({ userId: socket.data.claims.id, unsent }, 'cut off a client too slow to read');
    unsent = Number.NEGATIVE_INFINITY; // once
    const websocket = websocketOf(conn);
    if (websocket) websocket.terminate();
    else conn.close(true); // polling: the engine lets go of the session at once
  });
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
