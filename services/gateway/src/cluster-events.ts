import { z } from 'zod';
import { rooms } from '@chat/shared/events/rooms';
import type { Logger } from '@chat/shared/logger';
import { CloseCode } from './close-codes.ts';
import type { PlainWsEndpoint } from './plain-ws.ts';
import type { ChatServer } from './types.ts';

// What arrives over Redis is checked before use: a malformed event from a
// misbehaving publisher must be dropped and logged, not crash every gateway.
const chatMessage = z.object({
  id: z.string(),
  sender: z.string(),
  recipient: z.string().nullable(),
  room_id: z.string().nullable(),
  content: z.string(),
  created_at: z.string(),
});
const delivery = z.object({
  rooms: z.array(z.string()).min(1),
  event: z.enum(['message', 'direct_message']),
  message: chatMessage,
});
const membership = z.object({ action: z.enum(['join', 'leave']), userId: z.string(), roomId: z.string() });
const revocation = z.object({ userId: z.string(), jti: z.string() });

/**
 * The gateway's one delivery path. Every event (from any API replica, this
 * gateway or another) arrives as a Redis-adapter `serverSideEmit`, and is
 * applied here to the local Socket.IO sockets and local plain WebSockets alike.
 */
export function routeClusterEvents(io: ChatServer, plain: PlainWsEndpoint, logger: Logger) {
  const handle = <T>(name: string, schema: z.ZodType<T>, apply: (value: T) => void) => (payload: unknown) => {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) return logger.warn({ event: name, issues: parsed.error.issues }, 'dropped a malformed cluster event');
    try {
      apply(parsed.data);
    } catch (error) {
      logger.error({ err: error, event: name }, 'applying a cluster event failed');
    }
  };

  io.on(
    'deliver',
    handle('deliver', delivery, (d) => {
      io.local.to(d.rooms).emit(d.event, d.message);
      plain.deliver(d.rooms, { type: d.event, message: d.message });
    }),
  );

  io.on(
    'membership',
    handle('membership', membership, (c) => {
      const userRoom = rooms.user(c.userId);
      const room = rooms.room(c.roomId);
      if (c.action === 'join') io.local.in(userRoom).socketsJoin(room);
      else io.local.in(userRoom).socketsLeave(room);
      plain.setMembership(userRoom, room, c.action === 'join');
    }),
  );

  io.on(
    'token_revoked',
    handle('token_revoked', revocation, (r) => {
      plain.closeToken(r.jti, CloseCode.TOKEN_REVOKED, 'token revoked');
      io.local
        .in(rooms.user(r.userId))
        .fetchSockets()
        .then((sockets) => {
          for (const socket of sockets) if (socket.data.claims.jti === r.jti) socket.disconnect(true);
        })
        .catch((error: unknown) => logger.error({ err: error }, 'disconnecting revoked sockets failed'));
    }),
  );
}
