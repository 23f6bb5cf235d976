import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from '@chat/shared/events';
import type { Admitted } from '../connection/connection.ts';

export interface SocketData {
  /** What the handshake middleware established, until the connection is built from it on connect. */
  admitted?: Admitted;
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
