import type { z } from 'zod';
import type { Feed } from '@chat/shared/chat';
import { interServerEvents, rooms, type Delivery, type InterServerEventName } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { LocalTokens } from './local-tokens.ts';
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
export function routeClusterEvents(deps: {
  io: ChatServer;
  plain: PlainWsEndpoint;
  tokens: LocalTokens;
  feed: Feed;
  sequencer: Sequencer;
  logger: Logger;
  metrics: Metrics;
}) {
  const { io, plain, tokens, feed, sequencer, logger, metrics } = deps;

  function deliverLocally(d: Delivery) {
    const cursor = feed.cursors.forMessage(d.seq);
    io.local.to(d.rooms).emit(d.event, { ...d.message, cursor });
    const age = (Date.now() - Date.parse(d.message.created_at)) / 1000;
    count('socketio', localSocketIoRecipients(d.rooms), age);
    count('websocket', plain.deliver(d.rooms, { type: d.event, message: d.message, cursor }), age);
  }

  function count(kind: 'socketio' | 'websocket', recipients: number, ageSeconds: number) {
    if (recipients === 0) return;
    metrics.deliveries.inc({ kind }, recipients);
    metrics.deliveryLatency.observe({ kind }, Math.max(0, ageSeconds));
  }

  /** Local Socket.IO sockets in any of `rooms`, each once: the same walk the emit above makes. */
  function localSocketIoRecipients(names: readonly string[]): number {
    const byRoom = io.of('/').adapter.rooms;
    const recipients = new Set<string>();
    for (const name of names) for (const id of byRoom.get(name) ?? []) recipients.add(id);
    return recipients.size;
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

    // Both socket kinds register in `tokens` the moment they exist (plain
    // WebSockets close with 4001, Socket.IO sockets are disconnected), even
    // before they join any room, e.g. while a resume is replaying.
    token_revoked(r) {
      tokens.closeToken(r.userId, r.jti);
    },

    user_tokens_revoked(r) {
      tokens.closeIssuedNotAfter(r.userId, r.issuedNotAfter);
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
