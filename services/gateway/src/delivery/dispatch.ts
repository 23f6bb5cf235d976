import type { z } from 'zod';
import type { Feed } from '@chat/shared/chat';
import { interServerEvents, rooms, type Frame, type InterServerEventName, type MembershipChange } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { Connection } from '../connection/connection.ts';
import type { LocalRooms } from '../connection/local-rooms.ts';
import type { LocalTokens } from '../connection/local-tokens.ts';
import type { LocalFanout } from './fanout.ts';
import type { RoomSet } from './room-set.ts';
import type { Stream } from './stream.ts';

type Payload<E extends InterServerEventName> = z.infer<(typeof interServerEvents)[E]>;

/** A joiner's replay reads at most this many of the room's messages per page. */
const JOIN_REPLAY_PAGE = 500;

/**
 * What each cluster event does on this gateway. Every event reaches it as a
 * frame of its own channel, in log order, only if one of its connections is
 * in the event's rooms (intake.ts). Messages go through the stream, which
 * also fills in from the log what Redis lost, and then to the local
 * connections of both kinds alike (fanout.ts).
 */
export function createDispatch(deps: {
  stream: Pick<Stream, 'receive' | 'run'>;
  fanout: LocalFanout;
  /** The one local room index. */
  local: LocalRooms<Connection>;
  tokens: LocalTokens;
  /** Registered rooms: a join keeps its room registered while it runs, and while a pending connection may still join it. */
  registered: Pick<RoomSet, 'adopt'>;
  feed: Feed;
  logger: Logger;
  metrics: Metrics;
}): (frame: Frame) => void {
  const { stream, fanout, local, tokens, registered, feed, logger, metrics } = deps;

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
      // Not to a connection already in the room: one that opened after the join was committed has it among its rooms.
      for (const d of page) fanout.deliverToUser(userRoom, d, room);
      after = page.length < JOIN_REPLAY_PAGE ? next - 1 : (page.at(-1)?.seq ?? next - 1);
    }
    setMembership(userRoom, room, true);
  }

  function setMembership(userRoom: string, room: string, joined: boolean) {
    for (const conn of local.membersOf([userRoom])) {
      if (joined) local.join(conn, room);
      else local.leave(conn, room);
    }
  }

  /**
   * The user's connections that are not live yet (re-check, resume) join the
   * rooms of their list when they go live: the change goes into the list, and
   * a joined room stays routed here until each such connection closes. Live
   * connections are moved in stream order.
   */
  function updateRoomLists(c: MembershipChange) {
    const room = rooms.room(c.roomId);
    for (const conn of tokens.of(c.userId)) {
      if (conn.live) continue;
      const at = conn.rooms.indexOf(room);
      if (c.action === 'leave') {
        if (at >= 0) conn.rooms.splice(at, 1);
      } else if (at < 0) {
        conn.rooms.push(room);
        conn.whenClosed(registered.adopt(room));
      }
    }
  }

  type Handlers = { [E in InterServerEventName]: (payload: Payload<E>, frame: Frame) => void };
  const handlers: Handlers = {
    deliver: (d) => stream.receive(d),

    membership(c, frame) {
      const userRoom = rooms.user(c.userId);
      const room = rooms.room(c.roomId);
      updateRoomLists(c);
      if (c.action === 'join') {
        // The router added the room for this gateway with this frame: keep it until the join has run.
        const release = registered.adopt(room);
        return stream.run(() => {
          if (!local.has(userRoom)) return release();
          metrics.clusterEventsDelivered.inc({ event: 'membership' });
          return join(c, frame.next).finally(release);
        });
      }
      stream.run(() => {
        if (!local.has(userRoom)) return;
        metrics.clusterEventsDelivered.inc({ event: 'membership' });
        setMembership(userRoom, room, false);
      });
    },

    // Both socket kinds register in `tokens` the moment they are accepted, even
    // before they join any room (e.g. while a resume is replaying). Applied at
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
  return (frame) => {
    if (!Object.hasOwn(interServerEvents, frame.event)) return logger.warn({ event: frame.event }, 'dropped an unknown cluster event');
    const name = frame.event as InterServerEventName;
    const parsed = (interServerEvents[name] as z.ZodType).safeParse(frame.data);
    if (!parsed.success) return logger.warn({ event: name, issues: parsed.error.issues }, 'dropped a malformed cluster event');
    try {
      // Sound: each name's schema parses exactly what that name's handler takes.
      (handlers[name] as (payload: unknown, frame: Frame) => void)(parsed.data, frame);
    } catch (error) {
      logger.error({ err: error, event: name }, 'applying a cluster event failed');
    }
  };
}
