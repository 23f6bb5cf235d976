import type { z } from 'zod';
import type { Feed } from '@chat/shared/chat';
import { interServerEvents, rooms, type Delivery, type InterServerEventName } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import { CloseCode } from './close-codes.ts';
import type { PlainWsEndpoint } from './plain-ws.ts';
import type { Sequencer } from './sequencer.ts';
import type { ChatServer } from './types.ts';

type Handlers = { [E in InterServerEventName]: (payload: z.infer<(typeof interServerEvents)[E]>) => void };

/**
 * The gateway's one delivery path. Every event (from any API replica, this
 * gateway or another) arrives as a Redis-adapter `serverSideEmit`. Messages
 * go through the sequencer, which also fills in from the log what Redis lost,
 * and each is then applied here to the local Socket.IO sockets and local plain
 * WebSockets alike, with the cursor that stands for it.
 */
export function routeClusterEvents(deps: { io: ChatServer; plain: PlainWsEndpoint; feed: Feed; sequencer: Sequencer; logger: Logger }) {
  const { io, plain, feed, sequencer, logger } = deps;

  function deliverLocally(d: Delivery) {
    const cursor = feed.cursors.forMessage(d.seq);
    io.local.to(d.rooms).emit(d.event, { ...d.message, cursor });
    plain.deliver(d.rooms, { type: d.event, message: d.message, cursor });
  }

  sequencer.onDelivery(deliverLocally);

  const handlers: Handlers = {
    deliver: (d) => sequencer.receive(d),

    membership(c) {
      const userRoom = rooms.user(c.userId);
      const room = rooms.room(c.roomId);
      if (c.action === 'join') io.local.in(userRoom).socketsJoin(room);
      else io.local.in(userRoom).socketsLeave(room);
      plain.setMembership(userRoom, room, c.action === 'join');
    },

    token_revoked(r) {
      plain.closeToken(r.jti, CloseCode.TOKEN_REVOKED, 'token revoked');
      io.local
        .in(rooms.user(r.userId))
        .fetchSockets()
        .then((sockets) => {
          for (const socket of sockets) if (socket.data.claims.jti === r.jti) socket.disconnect(true);
        })
        .catch((error: unknown) => logger.error({ err: error, event: 'token_revoked' }, 'disconnecting revoked sockets failed'));
    },
  };

  // What arrives over Redis is checked against the same schema the publisher is
  // typed by: a malformed event is dropped and logged, never crashes a gateway.
  for (const name of Object.keys(handlers) as InterServerEventName[]) {
    // Sound: each name's schema parses exactly what that name's handler takes.
    const schema = interServerEvents[name] as z.ZodType;
    const apply = handlers[name] as (payload: unknown) => void;
    io.on(name, (payload: unknown) => {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) return logger.warn({ event: name, issues: parsed.error.issues }, 'dropped a malformed cluster event');
      try {
        apply(parsed.data);
      } catch (error) {
        logger.error({ err: error, event: name }, 'applying a cluster event failed');
      }
    });
  }
}
