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
    // A websocket-only session keeps its ws on the first request; an upgraded
    // one does not expose it, and is closed without waiting for the client.
    const websocket = (conn.request as { websocket?: WebSocket }).websocket;
    if (websocket) websocket.terminate();
    else conn.close(true);
  });
}
