import type { Server } from 'socket.io';
import type { TokenClaims } from '@chat/shared/auth';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from '@chat/shared/events';

export interface SocketData {
  claims: TokenClaims;
  /** Rooms to join on connect, looked up during the handshake. */
  initialRooms: string[];
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
