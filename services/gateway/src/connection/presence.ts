import type { TokenClaims } from '@chat/shared/auth';
import type { Audience } from '@chat/shared/chat';
import { clientCommands, rooms, type CommandReply, type PresenceChange, type Router } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { PresenceReader, PresenceWriter } from '@chat/shared/presence';
import { parseInput } from '@chat/shared/validation';
import type { DeliveryCore } from '../delivery/index.ts';
import type { Connection } from './connection.ts';
import type { LocalRooms } from './local-rooms.ts';

export interface PresenceTracker {
  start(): Promise<void>;
  connected(claims: TokenClaims): void;
  disconnected(claims: TokenClaims): void;
  stop(): Promise<void>;
}

/**
 * Counts this gateway's connections in cluster presence and announces a
 * user's first connection and last disconnection in the cluster to the
 * connections that share a conversation with them (their chat rooms, the user
 * rooms of their direct-message partners) or watch them (`presence:<id>`),
 * through the router's ephemeral route: only the gateways of those rooms get
 * it, so a change costs work bounded by the user's contacts, never by the
 * cluster. The audience is read from PostgreSQL at each announcement (one
 * indexed query; only cluster-wide transitions announce), so it follows
 * membership changes and new partners without a cache to keep right.
 * Presence is best effort: a Redis or PostgreSQL error is logged, never
 * thrown into a connection.
 */
export function createPresenceTracker(deps: {
  writer: PresenceWriter;
  audience: Pick<Audience, 'contactRooms'>;
  router: Pick<Router, 'ephemeral'>;
  logger: Logger;
  leaseMs: number;
}): PresenceTracker {
  const { writer, audience, router, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  const logFailure = (error: unknown) => logger.warn({ err: error }, 'presence update failed');
  /** Each user's announcements on this gateway, one after the other: an audience read must not let a later change overtake an earlier one. */
  const announcing = new Map<string, Promise<void>>();

  async function send(change: PresenceChange) {
    const contacts = await audience.contactRooms(change.user_id);
    await router.ephemeral([...contacts, rooms.presence(change.user_id)], 'presence', change);
  }

  function announce(claims: TokenClaims, status: PresenceChange['status']) {
    const change: PresenceChange = { user_id: claims.id, username: claims.username, status };
    const done = (announcing.get(claims.id) ?? Promise.resolve()).then(() => send(change)).catch(logFailure);
    announcing.set(claims.id, done);
    void done.then(() => {
      if (announcing.get(claims.id) === done) announcing.delete(claims.id);
    });
  }

  return {
    async start() {
      await writer.heartbeat();
      logger.info({ presenceId: writer.id }, 'presence lease taken');
      timer = setInterval(() => void writer.heartbeat().catch(logFailure), Math.max(deps.leaseMs / 3, 100));
      timer.unref();
    },
    connected(claims) {
      writer.connected(claims.id).then((total) => total === 1 && announce(claims, 'online'), logFailure);
    },
    disconnected(claims) {
      writer.disconnected(claims.id).then((total) => total === 0 && announce(claims, 'offline'), logFailure);
    },
    async stop() {
      clearInterval(timer);
      await writer.remove().catch(logFailure);
    },
  };
}

const PRESENCE_ROOM = rooms.presence('');

/** `presence_watch`: which users' presence a connection asked for, besides its contacts'. */
export type PresenceWatch = (conn: Connection, input: unknown) => Promise<CommandReply<'presence_watch'>>;

/**
 * A connection watches a user by being in their `presence:<id>` room: it is
 * registered with the router like any room before the connection joins it,
 * and dropped from the router by the gateway's upkeep once no connection here
 * is in it. The command replaces the connection's list, so repeating it is
 * harmless; the reply says who of the list is online now, read after the
 * rooms are routed here, so a change after that read arrives as `presence`.
 */
export function createPresenceWatch(deps: {
  core: Pick<DeliveryCore, 'open'>;
  local: LocalRooms<Connection>;
  reader: Pick<PresenceReader, 'onlineAmong'>;
}): PresenceWatch {
  const { core, local, reader } = deps;
  const input = clientCommands.presence_watch.input;
  return async (conn, raw) => {
    const userIds = [...new Set(parseInput(input, raw, 'invalid presence_watch').user_ids)];
    const wanted = new Set(userIds.map(rooms.presence));
    const watching = conn.rooms.filter((room) => room.startsWith(PRESENCE_ROOM));
    const added = [...wanted].filter((room) => !watching.includes(room));
    if (added.length > 0) {
      let release = () => {};
      // Registered (and pinned) before the connection joins, as at connect; fails with `unavailable`.
      await core.open(added, (unpin) => (release = unpin));
      try {
        // A connection that closed meanwhile has left its rooms already: it joins none.
        if (conn.isOpen()) for (const room of added) local.join(conn, room);
      } finally {
        release();
      }
    }
    for (const room of watching) if (!wanted.has(room)) local.leave(conn, room);
    const online = await reader.onlineAmong(userIds);
    return { user_ids: userIds, online: userIds.filter((id) => online.has(id)) };
  };
}
