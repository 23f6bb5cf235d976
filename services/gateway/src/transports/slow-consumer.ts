import type { WebSocket } from 'ws';
import type { ChatSocket } from './socketio-types.ts';

/**
 * Socket.IO's slow consumers. Engine.IO reports every packet it queues for a
 * client (`packetCreate`) and every time its queue empties (`drain`); what was
 * queued in between is what the client has not taken (socketio.ts counts it).
 * A client past the cap is cut off at once: one that does not read would not
 * answer a close handshake either, and its queue must not grow.
 */

export type EngineSocket = ChatSocket['conn'];

/** The bytes of one queued Engine.IO packet. */
export function packetBytes(packet: { data?: unknown }): number {
  const data = packet.data;
  return typeof data === 'string' ? data.length : Buffer.isBuffer(data) ? data.byteLength : 0;
}

/** Drops a session without a close handshake. */
export function cutOff(conn: EngineSocket): void {
  const websocket = websocketOf(conn);
  if (websocket) websocket.terminate();
  else conn.close(true); // polling: the engine lets go of the session at once
}

/**
 * The `ws` socket under a session on the websocket transport, whether it opened
 * there or upgraded from polling. Closing the session instead would start a
 * close handshake whose frame queues behind the unread data: the connection and
 * its buffers would stay until ws's 30 s close timeout. Engine.IO keeps the ws
 * as its transport's `socket` (not in its typings); a websocket-only session
 * also has it on its first request, an upgraded one nowhere else.
 */
function websocketOf(conn: EngineSocket): Pick<WebSocket, 'terminate'> | undefined {
  const transport = conn.transport as unknown as { name: string; socket?: Partial<WebSocket> };
  if (transport.name !== 'websocket') return undefined;
  const websocket = transport.socket ?? (conn.request as { websocket?: Partial<WebSocket> }).websocket;
  return typeof websocket?.terminate === 'function' ? (websocket as WebSocket) : undefined;
}
