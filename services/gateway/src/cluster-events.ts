import type { z } from 'zod';
import type { Feed } from '@chat/shared/chat';
import { interServerEvents, rooms, type Delivery, type Frame, type InterServerEventName, type MembershipChange } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { LocalTokens } from './local-tokens.ts';
import type { PlainWsEndpoint } from './plain-ws.ts';
import type { Sequencer } from './sequencer.ts';
import type { ChatServer } from './types.ts';

type Payload<E extends InterServerEventName> = z.infer<(typeof interServerEvents)[E]>;

/** A joiner's replay reads at most this many of the room's messages per page. */
const JOIN_REPLAY_PAGE = 500;

/**
 * The gateway's one delivery path. Every event reaches this gateway as a
 * frame on its own channel (routes.ts), in log order, only if one of its
 * connections is in the event's rooms. Messages go through the sequencer,
 * which also fills in from the log what Redis lost, and each is then applied
 * here to the local Socket.IO sockets and local plain WebSockets alike, with
 * the cursor that stands for it.
 */
export function routeClusterEvents(deps: {
  io: ChatServer;
  plain: PlainWsEndpoint;
  tokens: LocalTokens;
  feed: Feed;
  sequencer: Sequencer;
  logger: Logger;
  metrics: Metrics;
}): (frame: Frame, adopt: (room: string) => () => void) => void {
  const { io, plain, tokens, feed, sequencer, logger, metrics } = deps;

  function deliverLocally(d: Delivery) {
    const cursor = feed.cursors.forMessage(d.seq);
    io.local.to(d.rooms).emit(d.event, { ...d.message, cursor });
    const age = (Date.now() - Date.parse(d.message.created_at)) / 1000;
    const socketio = localSocketIoRecipients(d.rooms);
    const websocket = plain.deliver(d.rooms, { type: d.event, message: d.message, cursor });
    count('socketio', socketio, age);
    count('websocket', websocket, age);
    if (socketio + websocket > 0) metrics.clusterEventsDelivered.inc({ event: 'deliver' });
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

  const holdsUser = (userRoom: string) => (io.of('/').adapter.rooms.get(userRoom)?.size ?? 0) > 0 || plain.hasRoom(userRoom);

  /**
   * The join's frame was routed at `next`; from there on the router sends the
   * room's messages here. Those between the join's commit and that point went
   * only where the room already had members, so the joiner's connections get
   * them from the log first, while the stream waits, and then join the room.
   */
  async function join(change: MembershipChange, next: number) {
    const userRoom = rooms.user(change.userId);
    const room = rooms.room(change.roomId);
    let after = change.logHead ?? next - 1;
    while (after < next - 1) {
      const page = await feed.roomAfter(change.roomId, after, next - 1, JOIN_REPLAY_PAGE);
      for (const d of page) {
        const cursor = feed.cursors.forMessage(d.seq);
        // Not to a connection already in the room: one that opened after the join was committed has it among its rooms.
        io.local
          .to(userRoom)
          .except(room)
          .emit(d.event, { ...d.message, cursor });
        plain.deliver([userRoom], { type: d.event, message: d.message, cursor }, room);
      }
      after = page.length < JOIN_REPLAY_PAGE ? next - 1 : (page.at(-1)?.seq ?? next - 1);
    }
    io.local.in(userRoom).socketsJoin(room);
    plain.setMembership(userRoom, room, true);
  }

  /**
   * The user's connections that are not live yet (re-check, resume) join the
   * rooms of their list when they go live: the change goes into the list, and
   * a joined room stays routed here until each such connection closes. Live
   * connections are moved below, in stream order.
   */
  function updateRoomLists(c: MembershipChange, adopt: (room: string) => () => void) {
    const room = rooms.room(c.roomId);
    for (const holder of tokens.of(c.userId)) {
      if (holder.live) continue;
      const at = holder.rooms.indexOf(room);
      if (c.action === 'leave') {
        if (at >= 0) holder.rooms.splice(at, 1);
      } else if (at < 0) {
        holder.rooms.push(room);
        holder.whenClosed(adopt(room));
      }
    }
  }

  type Handlers = { [E in InterServerEventName]: (payload: Payload<E>, frame: Frame, adopt: (room: string) => () => void) => void };
  const handlers: Handlers = {
    deliver: (d) => sequencer.receive(d),

    membership(c, frame, adopt) {
      const userRoom = rooms.user(c.userId);
      const room = rooms.room(c.roomId);
      updateRoomLists(c, adopt);
      if (c.action === 'join') {
        // The router added the room for this gateway with this frame: keep it until the join has run.
        const release = adopt(room);
        return sequencer.run(() => {
          if (!holdsUser(userRoom)) return release();
          metrics.clusterEventsDelivered.inc({ event: 'membership' });
          return join(c, frame.next).finally(release);
        });
      }
      sequencer.run(() => {
        if (!holdsUser(userRoom)) return;
        metrics.clusterEventsDelivered.inc({ event: 'membership' });
        io.local.in(userRoom).socketsLeave(room);
        plain.setMembership(userRoom, room, false);
      });
    },

    // Both socket kinds register in `tokens` the moment they exist (plain
    // WebSockets close with 4001, Socket.IO sockets are disconnected), even
    // before they join any room, e.g. while a resume is replaying. Applied at
    // once, not in stream order: a revocation must not wait behind a replay.
    token_revoked(r) {
      if (tokens.closeToken(r.userId, r.jti) > 0) metrics.clusterEventsDelivered.inc({ event: 'token_revoked' });
    },

    user_tokens_revoked(r) {
      if (tokens.closeIssuedNotAfter(r.userId, r.issuedNotAfter) > 0) metrics.clusterEventsDelivered.inc({ event: 'user_tokens_revoked' });
    },
  };

  // What arrives over Redis is checked against the same schema the publisher is
  // typed by: a malformed event is dropped and logged, never crashes a gateway.
  return (frame, adopt) => {
    if (!Object.hasOwn(interServerEvents, frame.event)) return logger.warn({ event: frame.event }, 'dropped an unknown cluster event');
    const name = frame.event as InterServerEventName;
    const parsed = (interServerEvents[name] as z.ZodType).safeParse(frame.data);
    if (!parsed.success) return logger.warn({ event: name, issues: parsed.error.issues }, 'dropped a malformed cluster event');
    try {
      // Sound: each name's schema parses exactly what that name's handler takes.
      (handlers[name] as (payload: unknown, frame: Frame, adopt: (room: string) => () => void) => void)(parsed.data, frame, adopt);
    } catch (error) {
      logger.error({ err: error, event: name }, 'applying a cluster event failed');
    }
  };
}
