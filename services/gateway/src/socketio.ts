import type { MessageService } from '@chat/shared/chat';
import type { GatewayConfig } from '@chat/shared/config';
import { busy } from '@chat/shared/errors';
import type { Logger } from '@chat/shared/logger';
import { toClientError } from './client-errors.ts';
import { whenTokenExpires } from './expiry.ts';
import type { Handshake } from './handshake.ts';
import type { PresenceTracker } from './presence.ts';
import { createSerialQueue } from './serial.ts';
import type { ChatServer } from './types.ts';

/** Socket.IO: handshake auth as a middleware (a refusal is a `connect_error`), then the `message` event. */
export function attachSocketIo(
  io: ChatServer,
  deps: { handshake: Handshake; messages: MessageService; presence: PresenceTracker; limits: GatewayConfig['socketio']; logger: Logger },
) {
  const { handshake, messages, presence, limits, logger } = deps;

  io.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    handshake.authenticate(socket.request, auth?.token).then(
      ({ claims, rooms }) => {
        socket.data.claims = claims;
        socket.data.initialRooms = rooms;
        next();
      },
      (error: unknown) => {
        const { error: message, code } = toClientError(error, logger);
        next(Object.assign(new Error(message), { data: { code } }));
      },
    );
  });

  io.on('connection', (socket) => {
    const { claims } = socket.data;
    // The in-memory adapter joins synchronously, so no delivery can slip in between.
    void socket.join(socket.data.initialRooms);
    presence.connected(claims);
    logger.info({ userId: claims.id, transport: 'socket.io', rooms: socket.data.initialRooms.length }, 'client connected');
    const cancelExpiry = whenTokenExpires(claims, () => socket.disconnect(true));
    const queue = createSerialQueue(limits.maxQueuedMessages);

    socket.on('message', (input, ack) => {
      const reply = typeof ack === 'function' ? ack : undefined;
      const fail = (error: unknown) => {
        const clientError = toClientError(error, logger);
        if (reply) reply({ ok: false, ...clientError });
        else socket.emit('error', clientError);
      };
      const queued = queue.push(async () => {
        try {
          const message = await messages.send(claims, input);
          reply?.({ ok: true, message });
        } catch (error) {
          fail(error);
        }
      });
      if (!queued) fail(busy('too many messages in flight; slow down'));
    });

    socket.on('disconnect', (reason) => {
      logger.info({ userId: claims.id, transport: 'socket.io', reason }, 'client disconnected');
      cancelExpiry();
      presence.disconnected(claims);
    });
  });
}
