import type { Feed, MessageService } from '@chat/shared/chat';
import type { GatewayConfig } from '@chat/shared/config';
import { busy } from '@chat/shared/errors';
import { rooms, type Delivery } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import { toClientError } from './client-errors.ts';
import type { Expiring, ExpiryWatch } from './expiry.ts';
import type { Handshake } from './handshake.ts';
import type { LocalTokens, TokenHolder } from './local-tokens.ts';
import type { PresenceTracker } from './presence.ts';
import { resume, type ResumeContext } from './resume.ts';
import { SerialQueue } from './serial.ts';
import { guardSlowConsumer } from './slow-consumer.ts';
import type { ChatServer, ChatSocket } from './types.ts';

/** A socket as revocation and expiry see it: both end it at once. */
class SocketHolder implements TokenHolder, Expiring {
  readonly #socket: ChatSocket;

  constructor(socket: ChatSocket) {
    this.#socket = socket;
  }

  get claims() {
    return this.#socket.data.claims;
  }

  get rooms() {
    return this.#socket.data.initialRooms;
  }

  get live() {
    return this.#socket.rooms.has(rooms.user(this.#socket.data.claims.id));
  }

  revoke(): void {
    this.#socket.disconnect(true);
  }

  whenClosed(listener: () => void): void {
    this.#socket.once('disconnect', listener);
  }

  expire(): void {
    this.#socket.disconnect(true);
  }
}

/** Socket.IO: handshake auth as a middleware (a refusal is a `connect_error`), then the `message` event. */
export function attachSocketIo(
  io: ChatServer,
  deps: {
    handshake: Handshake;
    messages: MessageService;
    presence: PresenceTracker;
    resume: ResumeContext;
    tokens: LocalTokens;
    expiry: ExpiryWatch;
    limits: GatewayConfig['socketio'];
    logger: Logger;
    metrics: Metrics;
  },
) {
  const { handshake, messages, presence, limits, logger, metrics } = deps;
  const feed: Feed = deps.resume.feed;

  io.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown; since?: unknown } | undefined;
    handshake
      .authenticate(socket.request, auth?.token)
      .then(async ({ claims, rooms }) => {
        socket.data.claims = claims;
        socket.data.initialRooms = rooms;
        const since = auth?.since;
        // A non-string cursor is refused by the same rule as a malformed one.
        socket.data.since =
          since == null
            ? undefined
            : await feed.resumePoint(claims, typeof since === 'string' ? since : '').catch((error: unknown) => {
                metrics.resumes.inc({ outcome: 'refused' });
                throw error;
              });
        // Held until the transport closes, whether or not the connection is ever established.
        await deps.resume.routes.open(rooms, (release) => socket.conn.once('close', release));
      })
      .then(
        () => next(),
        (error: unknown) => {
          const { error: message, code, retry_after } = toClientError(error, logger);
          next(Object.assign(new Error(message), { data: { code, ...(retry_after === undefined ? {} : { retry_after }) } }));
        },
      );
  });

  const deliveredMessage = (d: Delivery) => ({ ...d.message, cursor: feed.cursors.forMessage(d.seq) });

  /**
   * Returns a wait that resolves once Engine.IO has handed everything queued to
   * the transport, or the socket is gone. Engine.IO emits `drain` only when it
   * flushes a non-empty buffer, so the wait counts what was queued since the
   * last one: with nothing queued (a page that went out in one flush, while the
   * transport is still writing it) no drain would come until the next heartbeat.
   */
  const drainWaiter = (socket: ChatSocket) => {
    let queued = 0;
    socket.conn.on('packetCreate', () => {
      queued++;
    });
    socket.conn.on('drain', () => {
      queued = 0;
    });
    return () =>
      new Promise<void>((resolve) => {
        if (socket.disconnected || queued === 0) return void setImmediate(resolve);
        const done = () => {
          socket.conn.off('drain', done);
          socket.off('disconnect', done);
          resolve();
        };
        socket.conn.on('drain', done);
        socket.once('disconnect', done);
      });
  };

  function goLiveNow(socket: ChatSocket) {
    const { claims, initialRooms, since } = socket.data;
    const cursor = (seq: number) => feed.cursors.forUser(claims.id, seq);
    if (since === undefined) {
      // The in-memory part of the adapter joins synchronously, so no delivery can slip in between.
      void socket.join(initialRooms);
      socket.emit('resumed', { cursor: cursor(deps.resume.sequencer.watermark), replayed: 0 });
      return;
    }
    resume(deps.resume, claims, since, {
      isOpen: () => socket.connected,
      send: (d) => socket.emit(d.event, deliveredMessage(d)),
      drained: drainWaiter(socket),
      goLive: () => void socket.join(initialRooms),
    }).then(
      (outcome) => {
        if (outcome.kind === 'resumed') socket.emit('resumed', { cursor: cursor(outcome.seq), replayed: outcome.replayed });
        if (outcome.kind === 'reload') socket.emit('reload', { reason: 'backlog_too_large', cursor: cursor(outcome.seq) });
      },
      (error: unknown) => {
        socket.emit('error', toClientError(error, logger));
        socket.disconnect(true);
      },
    );
  }

  const onTaskError = (error: unknown) => logger.error({ err: error }, 'a socket.io task failed');

  io.on('connection', (socket) => {
    const { claims } = socket.data;
    // Registered for revocation events first, then checked again: a logout that
    // raced the handshake is caught by one or the other.
    const holder = new SocketHolder(socket);
    deps.tokens.add(holder);
    guardSlowConsumer(socket, limits.maxBufferedBytes, logger);
    presence.connected(claims);
    metrics.socketConnections.inc({ kind: 'socketio' });
    logger.info(
      { userId: claims.id, transport: 'socket.io', rooms: socket.data.initialRooms.length, resuming: socket.data.since !== undefined },
      'client connected',
    );
    const queue = new SerialQueue(limits.maxQueuedMessages, onTaskError);
    // Nothing is delivered and no message is stored before the re-check passed:
    // it is the queue's first task, and going live waits for it.
    const checked = handshake.recheck(claims).then(
      () => true,
      (error: unknown) => {
        socket.emit('error', toClientError(error, logger));
        socket.disconnect(true);
        return false;
      },
    );
    queue.push(async () => {
      if ((await checked) && socket.connected) goLiveNow(socket);
    });

    socket.on('message', (input, ack) => {
      const reply = typeof ack === 'function' ? ack : undefined;
      const fail = (error: unknown) => {
        const clientError = toClientError(error, logger);
        if (reply) reply({ ok: false, ...clientError });
        else socket.emit('error', clientError);
      };
      const queued = queue.push(async () => {
        if (!socket.connected) return;
        try {
          const { message, duplicate } = await messages.send(claims, input);
          if (!duplicate) metrics.messagesStored.inc({ transport: 'socketio' });
          reply?.({ ok: true, message });
        } catch (error) {
          fail(error);
        }
      });
      if (!queued) fail(busy('too many messages in flight; slow down'));
    });

    socket.on('disconnect', (reason) => {
      logger.info({ userId: claims.id, transport: 'socket.io', reason }, 'client disconnected');
      deps.expiry.unwatch(holder);
      deps.tokens.remove(holder);
      presence.disconnected(claims);
      metrics.socketConnections.dec({ kind: 'socketio' });
    });
    // Last: a token that ran out during the handshake disconnects at once, and the
    // listener above must be there to undo the bookkeeping.
    deps.expiry.watch(holder);
  });
}
