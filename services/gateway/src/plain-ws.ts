import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { TokenClaims } from '@chat/shared/auth';
import type { MessageService } from '@chat/shared/chat';
import type { GatewayConfig } from '@chat/shared/config';
import { busy } from '@chat/shared/errors';
import type { Logger } from '@chat/shared/logger';
import { HTTP_STATUS, type ErrorBody } from '@chat/shared/presenters';
import { toClientError } from './client-errors.ts';
import { CloseCode } from './close-codes.ts';
import { whenTokenExpires } from './expiry.ts';
import type { Handshake } from './handshake.ts';
import { LocalRooms } from './local-rooms.ts';
import type { PresenceTracker } from './presence.ts';
import { createSerialQueue } from './serial.ts';

export const PLAIN_WS_PATH = '/api/ws/connect';

interface Connection {
  ws: WebSocket;
  claims: TokenClaims;
  lastPong: number;
  queue: ReturnType<typeof createSerialQueue>;
}

export interface PlainWsEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sends one frame to every local connection in any of `rooms`, once each. */
  deliver(rooms: readonly string[], frame: object): void;
  /** Applies a membership change to all local connections in `userRoom`. */
  setMembership(userRoom: string, room: string, joined: boolean): void;
  closeToken(jti: string, code: number, reason: string): void;
  close(code: number, reason: string): void;
}

/** The seed-compatible endpoint: one JSON object per text frame, both ways. */
export function createPlainWsEndpoint(deps: {
  handshake: Handshake;
  messages: MessageService;
  presence: PresenceTracker;
  limits: GatewayConfig['websocket'];
  logger: Logger;
}): PlainWsEndpoint {
  const { handshake, messages, presence, limits, logger } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardLimitBytes });
  const local = new LocalRooms<Connection>();

  const send = (conn: Connection, frame: object) => {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(frame));
  };
  const sendError = (conn: Connection, error: ErrorBody) => send(conn, { type: 'error', ...error });

  /** Refuses an upgrade with a plain HTTP answer: the status that the error's code stands for. */
  function reject(socket: Duplex, error: ErrorBody) {
    const status = HTTP_STATUS[error.code];
    const body = JSON.stringify(error);
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  }

  function onFrame(conn: Connection, data: RawData, isBinary: boolean) {
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (isBinary) return sendError(conn, { error: 'binary frames are not supported', code: 'validation_failed' });
    if (bytes > limits.maxMessageBytes) {
      return sendError(conn, { error: `frame exceeds ${limits.maxMessageBytes} bytes`, code: 'payload_too_large' });
    }
    let frame: unknown;
    try {
      frame = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    } catch {
      return sendError(conn, { error: 'frame is not valid JSON', code: 'validation_failed' });
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      return sendError(conn, { error: 'frame must be a JSON object', code: 'validation_failed' });
    }
    const type = (frame as { type?: unknown }).type;
    if (type === 'ping') return send(conn, { type: 'pong', status: 'ok' });
    if (type !== 'message') {
      return sendError(conn, { error: 'unknown frame type; expected "message" or "ping"', code: 'validation_failed' });
    }
    // The sender sees its own message through normal fan-out, as the seed's clients expect.
    const queued = conn.queue.push(async () => {
      try {
        await messages.send(conn.claims, frame);
      } catch (error) {
        sendError(conn, toClientError(error, logger));
      }
    });
    if (!queued) sendError(conn, toClientError(busy('too many messages in flight; slow down'), logger));
  }

  function accept(ws: WebSocket, claims: TokenClaims, rooms: string[]) {
    const conn: Connection = { ws, claims, lastPong: Date.now(), queue: createSerialQueue(limits.maxQueuedMessages) };
    for (const room of rooms) local.join(conn, room);
    presence.connected(claims);
    logger.info({ userId: claims.id, transport: 'websocket', rooms: rooms.length }, 'client connected');
    const cancelExpiry = whenTokenExpires(claims, () => ws.close(CloseCode.TOKEN_EXPIRED, 'token expired'));
    ws.on('pong', () => {
      conn.lastPong = Date.now();
    });
    ws.on('message', (data, isBinary) => onFrame(conn, data, isBinary));
    // `ws` reports protocol errors (such as a frame over maxPayload) here, then closes.
    ws.on('error', (error) => logger.debug({ err: error, userId: claims.id }, 'websocket error'));
    ws.on('close', (code) => {
      logger.info({ userId: claims.id, transport: 'websocket', code }, 'client disconnected');
      local.leaveAll(conn);
      cancelExpiry();
      presence.disconnected(claims);
    });
    send(conn, { type: 'connection', status: 'connected', user_id: claims.id, username: claims.username });
  }

  // Dead peers: anyone who has not answered a ping within the pong wait is dropped.
  const heartbeat = setInterval(() => {
    const now = Date.now();
    for (const conn of local.all()) {
      if (now - conn.lastPong > limits.pongWaitMs) conn.ws.terminate();
      else conn.ws.ping();
    }
  }, limits.pingPeriodMs);
  heartbeat.unref();

  return {
    handleUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      if (!handshake.originAllowed(req)) return reject(socket, { error: 'origin not allowed', code: 'forbidden' });
      handshake.authenticate(req).then(
        ({ claims, rooms }) => wss.handleUpgrade(req, socket, head, (ws) => accept(ws, claims, rooms)),
        (error: unknown) => reject(socket, toClientError(error, logger)),
      );
    },

    deliver(rooms, frame) {
      const text = JSON.stringify(frame);
      for (const conn of local.membersOf(rooms)) {
        if (conn.ws.readyState !== WebSocket.OPEN) continue;
        // A client this far behind on reading is cut off rather than buffered without bound.
        if (conn.ws.bufferedAmount > limits.maxBufferedBytes) {
          conn.ws.close(CloseCode.POLICY_VIOLATION, 'client too slow');
          continue;
        }
        conn.ws.send(text);
      }
    },

    setMembership(userRoom, room, joined) {
      for (const conn of local.membersOf([userRoom])) {
        if (joined) local.join(conn, room);
        else local.leave(conn, room);
      }
    },

    closeToken(jti, code, reason) {
      for (const conn of local.all()) if (conn.claims.jti === jti) conn.ws.close(code, reason);
    },

    close(code, reason) {
      clearInterval(heartbeat);
      for (const conn of local.all()) conn.ws.close(code, reason);
      wss.close();
    },
  };
}
