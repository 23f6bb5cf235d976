import type { Server, Socket } from 'socket.io';
import type { TokenClaims } from '@chat/shared/auth';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from '@chat/shared/events';

export interface SocketData {
  claims: TokenClaims;
  /** Rooms to join on connect, looked up during the handshake. */
  initialRooms: string[];
  /** The log position to resume after, when the client sent a cursor. */
  since: number | undefined;
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
