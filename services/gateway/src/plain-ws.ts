import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { TokenClaims } from '@chat/shared/auth';
import type { MessageService } from '@chat/shared/chat';
import type { GatewayConfig } from '@chat/shared/config';
import { busy } from '@chat/shared/errors';
import type { Delivery, PlainServerFrame } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import { HTTP_STATUS, retryAfterSeconds, type ErrorBody } from '@chat/shared/presenters';
import { toClientError } from './client-errors.ts';
import { CloseCode } from './close-codes.ts';
import type { ExpiryWatch, Expiring } from './expiry.ts';
import type { Handshake } from './handshake.ts';
import type { LocalTokens, TokenHolder } from './local-tokens.ts';
import { LocalRooms } from './local-rooms.ts';
import { parseInbound } from './plain-ws-frames.ts';
import type { PresenceTracker } from './presence.ts';
import { resume, type ResumeContext, type ResumeTarget } from './resume.ts';
import { SerialQueue } from './serial.ts';

export const PLAIN_WS_PATH = '/api/ws/connect';

/** While replaying, wait for the client to read once this much is unsent. */
const REPLAY_HIGH_WATER_BYTES = 256 * 1024;

/**
 * One open plain WebSocket. Its event handlers are shared by all connections
 * (they find it through `connectionOf`) rather than closures per connection:
 * an idle connection should cost little more than the socket itself.
 */
class Connection implements TokenHolder, Expiring {
  readonly ws: WebSocket;
  readonly claims: TokenClaims;
  readonly queue: SerialQueue;
  /** Joined when the connection goes live; see TokenHolder.rooms. */
  readonly rooms: string[];
  /** Set once it has joined `rooms`. */
  live = false;
  lastPong = Date.now();

  constructor(ws: WebSocket, claims: TokenClaims, queue: SerialQueue, rooms: string[]) {
    this.ws = ws;
    this.claims = claims;
    this.queue = queue;
    this.rooms = rooms;
  }

  revoke(): void {
    this.ws.close(CloseCode.TOKEN_REVOKED, 'token revoked');
  }

  whenClosed(listener: () => void): void {
    this.ws.once('close', listener);
  }

  expire(): void {
    this.ws.close(CloseCode.TOKEN_EXPIRED, 'token expired');
  }
}

const connectionOf = new WeakMap<WebSocket, Connection>();

export interface PlainWsEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sends one frame to every local connection in any of `rooms` (and not in `except`), once each; returns how many it was sent to. */
  deliver(rooms: readonly string[], frame: object, except?: string): number;
  /** Applies a membership change to all local connections in `userRoom`. */
  setMembership(userRoom: string, room: string, joined: boolean): void;
  /** Whether a local connection is in `room`. */
  hasRoom(room: string): boolean;
  close(code: number, reason: string): void;
}

/**
 * At module scope on purpose: a closure made inside handleUpgrade would share
 * that call's context (the request with its headers and token) and keep it
 * alive as long as the socket lives, about 3 KB per idle connection.
 */
function destroyOnError(this: Duplex) {
  this.destroy();
}

/** The seed-compatible endpoint: one JSON object per text frame, both ways. */
export function createPlainWsEndpoint(deps: {
  handshake: Handshake;
  messages: MessageService;
  presence: PresenceTracker;
  resume: ResumeContext;
  tokens: LocalTokens;
  expiry: ExpiryWatch;
  limits: GatewayConfig['websocket'];
  logger: Logger;
  metrics: Metrics;
}): PlainWsEndpoint {
  const { handshake, messages, presence, limits, logger, metrics } = deps;
  const { feed, sequencer, routes } = deps.resume;
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardLimitBytes });
  const local = new LocalRooms<Connection>();
  // Every open connection, including those still replaying and so in no room yet.
  const connections = new Set<Connection>();

  // Typed by the frame schemas that docs/asyncapi.yaml is generated from.
  const send = (conn: Connection, frame: PlainServerFrame) => {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(frame));
  };
  const sendError = (conn: Connection, error: ErrorBody, clientMsgId?: string) =>
    send(conn, { type: 'error', ...error, ...(clientMsgId === undefined ? {} : { client_msg_id: clientMsgId }) });

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

  function onFrame(conn: Connection, inbound: ReturnType<typeof parseInbound>) {
    if (inbound.type === 'invalid') return sendError(conn, inbound.error);
    if (inbound.type === 'ping') return send(conn, { type: 'pong', status: 'ok' });
    const { body, clientMsgId } = inbound;
    // The sender sees its own message through normal fan-out, as the seed's
    // clients expect; a frame with a client_msg_id is also acknowledged.
    const queued = conn.queue.push(async () => {
      if (conn.ws.readyState !== WebSocket.OPEN) return;
      try {
        const { message, duplicate } = await messages.send(conn.claims, body);
        if (!duplicate) metrics.messagesStored.inc({ transport: 'websocket' });
        if (clientMsgId !== undefined) send(conn, { type: 'ack', client_msg_id: clientMsgId, message });
      } catch (error) {
        sendError(conn, toClientError(error, logger), clientMsgId);
      }
    });
    if (!queued) sendError(conn, toClientError(busy('too many messages in flight; slow down'), logger), clientMsgId);
  }

  const messageFrame = (d: Delivery): PlainServerFrame => ({ type: d.event, message: d.message, cursor: feed.cursors.forMessage(d.seq) });

  /** Resolves once the client has read most of what it was sent, or has gone. */
  async function drained(ws: WebSocket) {
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > REPLAY_HIGH_WATER_BYTES) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  function startResume(conn: Connection, since: number) {
    const target: ResumeTarget = {
      isOpen: () => conn.ws.readyState === WebSocket.OPEN,
      send: (d) => send(conn, messageFrame(d)),
      drained: () => drained(conn.ws),
      goLive: () => {
        for (const room of conn.rooms) local.join(conn, room);
        conn.live = true;
      },
    };
    resume(deps.resume, conn.claims, since, target).then(
      (outcome) => {
        const cursor = (seq: number) => feed.cursors.forUser(conn.claims.id, seq);
        if (outcome.kind === 'resumed') send(conn, { type: 'resumed', cursor: cursor(outcome.seq), replayed: outcome.replayed });
        if (outcome.kind === 'reload') send(conn, { type: 'reload', reason: 'backlog_too_large', cursor: cursor(outcome.seq) });
      },
      (error: unknown) => {
        sendError(conn, toClientError(error, logger));
        conn.ws.close(CloseCode.TRY_AGAIN_LATER, 'resume failed; try again');
      },
    );
  }

  const onTaskError = (error: unknown) => logger.error({ err: error }, 'a websocket task failed');

  // The handlers every connection shares; `this` is the connection's WebSocket.
  function onPong(this: WebSocket) {
    const conn = connectionOf.get(this);
    if (conn) conn.lastPong = Date.now();
  }
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
    const conn = connectionOf.get(this);
    if (conn) onFrame(conn, parseInbound(data, isBinary, limits.maxMessageBytes));
  }
  // `ws` reports protocol errors (such as a frame over maxPayload) here, then closes.
  function onError(this: WebSocket, error: Error) {
    logger.debug({ err: error, userId: connectionOf.get(this)?.claims.id }, 'websocket error');
  }
  function onClose(this: WebSocket, code: number) {
    const conn = connectionOf.get(this);
    if (!conn) return;
    logger.info({ userId: conn.claims.id, transport: 'websocket', code }, 'client disconnected');
    connections.delete(conn);
    metrics.socketConnections.dec({ kind: 'websocket' });
    deps.tokens.remove(conn);
    deps.expiry.unwatch(conn);
    local.leaveAll(conn);
    presence.disconnected(conn.claims);
  }

  function accept(ws: WebSocket, claims: TokenClaims, rooms: string[], since: number | undefined) {
    const conn = new Connection(ws, claims, new SerialQueue(limits.maxQueuedMessages, onTaskError), rooms);
    connectionOf.set(ws, conn);
    connections.add(conn);
    metrics.socketConnections.inc({ kind: 'websocket' });
    // Registered for revocation events first (its rooms with the router before
    // the upgrade, here locally), then checked again (below): a logout that
    // raced the handshake is caught by one or the other.
    deps.tokens.add(conn);
    presence.connected(claims);
    logger.info({ userId: claims.id, transport: 'websocket', rooms: rooms.length, resuming: since !== undefined }, 'client connected');
    ws.on('pong', onPong);
    ws.on('message', onMessage);
    ws.on('error', onError);
    ws.on('close', onClose);
    deps.expiry.watch(conn);
    // Nothing is delivered and no frame is handled before the re-check passed:
    // it is the queue's first task, and going live happens inside it.
    const checked = handshake.recheck(claims).then(
      () => true,
      (error: unknown) => {
        const body = toClientError(error, logger);
        sendError(conn, body);
        if (body.code === 'unauthenticated') ws.close(CloseCode.TOKEN_REVOKED, 'token revoked');
        else ws.close(CloseCode.TRY_AGAIN_LATER, 'cannot verify the token; try again');
        return false;
      },
    );
    conn.queue.push(async () => {
      if ((await checked) && ws.readyState === WebSocket.OPEN) goLive(conn, since);
    });
  }

  function goLive(conn: Connection, since: number | undefined) {
    const { claims } = conn;
    const hello = { type: 'connection', status: 'connected', user_id: claims.id, username: claims.username } as const;
    if (since === undefined) {
      // Live from here on; the cursor lets the client resume from this point.
      for (const room of conn.rooms) local.join(conn, room);
      conn.live = true;
      return send(conn, { ...hello, cursor: feed.cursors.forUser(claims.id, sequencer.watermark) });
    }
    send(conn, hello);
    startResume(conn, since);
  }

  /** Accepts the upgrade only to say why the cursor was refused: a browser cannot read a refused handshake. */
  function refuseCursor(req: IncomingMessage, socket: Duplex, head: Buffer, error: unknown) {
    const body = toClientError(error, logger);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ type: 'error', ...body }));
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
      if (!handshake.originAllowed(req)) return reject(socket, { error: 'origin not allowed', code: 'forbidden' });
      const cursor = new URL(req.url ?? '/', 'http://gateway').searchParams.get('since');
      handshake
        .authenticate(req)
        .then(
          async ({ claims, rooms }) => {
            let since: number | undefined;
            try {
              if (cursor !== null) since = await feed.resumePoint(claims, cursor);
            } catch (error) {
              metrics.resumes.inc({ outcome: 'refused' });
              return refuseCursor(req, socket, head, error);
            }
            try {
              // Held until the socket closes, whether or not the upgrade completes.
              await routes.open(rooms, (release) => socket.once('close', release));
            } catch (error) {
              return reject(socket, toClientError(error, logger));
            }
            wss.handleUpgrade(req, socket, head, (ws) => accept(ws, claims, rooms, since));
          },
          (error: unknown) => reject(socket, toClientError(error, logger)),
        )
        .catch((error: unknown) => {
          logger.error({ err: error }, 'accepting a websocket failed');
          socket.destroy();
        });
    },

    deliver(rooms, frame, except) {
      const text = JSON.stringify(frame);
      const skip = except === undefined ? undefined : local.membersOf([except]);
      let sent = 0;
      for (const conn of local.membersOf(rooms)) {
        if (conn.ws.readyState !== WebSocket.OPEN || skip?.has(conn)) continue;
        // A client this far behind on reading is cut off at once: it would not
        // answer a close handshake either, and nobody else may wait for it.
        if (conn.ws.bufferedAmount > limits.maxBufferedBytes) {
          logger.warn({ userId: conn.claims.id, buffered: conn.ws.bufferedAmount }, 'cut off a client too slow to read');
          conn.ws.terminate();
          continue;
        }
        conn.ws.send(text);
        sent++;
      }
      return sent;
    },

    hasRoom: (room) => local.has(room),

    setMembership(userRoom, room, joined) {
      for (const conn of local.membersOf([userRoom])) {
        if (joined) local.join(conn, room);
        else local.leave(conn, room);
      }
    },

    close(code, reason) {
      clearInterval(heartbeat);
      for (const conn of connections) conn.ws.close(code, reason);
      wss.close();
    },
  };
}
