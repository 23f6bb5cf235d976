import type { IncomingMessage } from 'node:http';
import type { Feed } from '@chat/shared/chat';
import { busy, forbidden } from '@chat/shared/errors';
import type { CommandName, CommandReply, Delivery } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { ErrorBody } from '@chat/shared/presenters';
import type { DeliveryCore } from '../delivery/index.ts';
import { toClientError } from './client-errors.ts';
import type { CommandHandlers } from './commands.ts';
import { messageEvent, type Admitted, type Connection, type TransportKind } from './connection.ts';
import type { ExpiryWatch } from './expiry.ts';
import type { Handshake } from './handshake.ts';
import type { LocalRooms } from './local-rooms.ts';
import type { LocalTokens } from './local-tokens.ts';
import type { PresenceTracker } from './presence.ts';
import { resume } from './resume.ts';

/** What the handshake decided: the connection may be accepted, or why not (`cursor`: only the resume cursor was refused). */
export type Admission = ({ ok: true } & Admitted) | { ok: false; error: ErrorBody; cursor: boolean };

export interface AdmissionRequest {
  req: IncomingMessage;
  /** A token from the Socket.IO `auth` payload; otherwise the header, cookie or query carries it. */
  authPayload?: unknown;
  /** The resume cursor the client sent, if it sent one. */
  cursor: string | undefined;
  /**
   * Runs `release` when the transport's connection closes, whether or not it
   * is ever accepted: the rooms stay registered with the router until then.
   */
  onTransportClose: (release: () => void) => void;
}

/** A command's outcome, which each transport answers in its own way (an ack frame, an acknowledgement). */
export type CommandResult = { ok: true; reply: CommandReply } | { ok: false; error: ErrorBody };

/**
 * The one connection lifecycle both transports drive: admit (authenticate,
 * resume point, register the rooms with the router), accept (track, re-check,
 * then go live or resume), commands, and the close. A transport only parses
 * and frames.
 */
export interface Lifecycle {
  admit(request: AdmissionRequest): Promise<Admission>;
  /** The transport has accepted `conn` and will report its close to `closed`. */
  accept(conn: Connection): void;
  /** A client command, its framing already checked; `reply` hears how it went. */
  command(conn: Connection, name: CommandName, input: unknown, reply: (result: CommandResult) => void): void;
  /** The transport's connection has closed; `detail` goes to the log (a close code, a reason). */
  closed(conn: Connection, detail: Record<string, unknown>): void;
}

export interface LifecycleDeps {
  handshake: Handshake;
  feed: Feed;
  core: Pick<DeliveryCore, 'open' | 'watermark' | 'reach'>;
  rooms: LocalRooms<Connection>;
  tokens: LocalTokens;
  expiry: ExpiryWatch;
  presence: PresenceTracker;
  commands: CommandHandlers;
  /** RESUME_MAX_BACKLOG and RESUME_PAGE_SIZE. */
  resume: { maxBacklog: number; pageSize: number };
  logger: Logger;
  metrics: Metrics;
}

/** How logs name each transport. */
const LOG_NAME: Record<TransportKind, string> = { socketio: 'socket.io', websocket: 'websocket' };

export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  const { handshake, feed, core, rooms, tokens, expiry, presence, commands, logger, metrics } = deps;
  const resumeContext = { feed, stream: core, metrics, ...deps.resume };

  const refused = (error: unknown, cursor = false): Admission => ({ ok: false, error: toClientError(error, logger), cursor });

  function join(conn: Connection) {
    rooms.joinAll(conn);
    conn.live = true;
  }

  function goLive(conn: Connection) {
    const { claims, since } = conn;
    const cursor = (seq: number) => feed.cursors.forUser(claims.id, seq);
    if (since === undefined) {
      // Joined in the same tick as the watermark is read: no delivery falls in between.
      join(conn);
      return conn.greet(cursor(core.watermark));
    }
    conn.greet(undefined);
    const target = {
      isOpen: () => conn.isOpen(),
      send: (d: Delivery) => conn.send(messageEvent(feed.cursors, d)),
      drained: () => conn.drained(),
      goLive: () => join(conn),
    };
    resume(resumeContext, claims, since, target).then(
      (outcome) => {
        if (outcome.kind === 'resumed') conn.send({ event: 'resumed', data: { cursor: cursor(outcome.seq), replayed: outcome.replayed } });
        if (outcome.kind === 'reload') conn.send({ event: 'reload', data: { reason: 'backlog_too_large', cursor: cursor(outcome.seq) } });
      },
      (error: unknown) => {
        conn.send({ event: 'error', data: toClientError(error, logger) });
        conn.close('try_again', 'resume failed; try again');
      },
    );
  }

  return {
    async admit({ req, authPayload, cursor, onTransportClose }) {
      // Browsers always send Origin; native clients (curl, k6, apps) send none and are let through.
      if (!handshake.originAllowed(req)) return refused(forbidden('origin not allowed'));
      let admitted: Pick<Admitted, 'claims' | 'rooms'>;
      try {
        admitted = await handshake.authenticate(req, authPayload);
      } catch (error) {
        return refused(error);
      }
      let since: number | undefined;
      if (cursor !== undefined) {
        try {
          since = await feed.resumePoint(admitted.claims, cursor);
        } catch (error) {
          metrics.resumes.inc({ outcome: 'refused' });
          return refused(error, true);
        }
      }
      try {
        // Before the connection is accepted, so the post-accept revocation
        // re-check reads Redis after the router already sends the user's events here.
        await core.open(admitted.rooms, onTransportClose);
      } catch (error) {
        return refused(error);
      }
      return { ok: true, ...admitted, since };
    },

    accept(conn) {
      const { claims } = conn;
      // Registered for revocation events first, then checked again (below): a
      // logout that raced the handshake is caught by one or the other.
      tokens.add(conn);
      presence.connected(claims);
      metrics.socketConnections.inc({ kind: conn.transport.kind });
      logger.info(
        { userId: claims.id, transport: LOG_NAME[conn.transport.kind], rooms: conn.rooms.length, resuming: conn.since !== undefined },
        'client connected',
      );
      // Nothing is delivered and no command runs before the re-check passed:
      // it is the queue's first task, and going live happens inside it.
      const checked = handshake.recheck(claims).then(
        () => true,
        (error: unknown) => {
          const body = toClientError(error, logger);
          conn.send({ event: 'error', data: body });
          if (body.code === 'unauthenticated') conn.revoke();
          else conn.close('try_again', 'cannot verify the token; try again');
          return false;
        },
      );
      conn.queue.push(async () => {
        if ((await checked) && conn.isOpen()) goLive(conn);
      });
      // Last: a token that ran out during the handshake closes the connection at
      // once, and everything above must be in place for `closed` to undo.
      expiry.watch(conn);
    },

    command(conn, name, input, reply) {
      const run = commands[name];
      const fail = (error: unknown) => reply({ ok: false, error: toClientError(error, logger) });
      const queued = conn.queue.push(async () => {
        if (!conn.isOpen()) return;
        let result: CommandReply;
        try {
          result = await run(conn, input);
        } catch (error) {
          return fail(error);
        }
        reply({ ok: true, reply: result });
      });
      if (!queued) fail(busy('too many messages in flight; slow down'));
    },

    closed(conn, detail) {
      logger.info({ userId: conn.claims.id, transport: LOG_NAME[conn.transport.kind], ...detail }, 'client disconnected');
      expiry.unwatch(conn);
      tokens.remove(conn);
      rooms.leaveAll(conn);
      presence.disconnected(conn.claims);
      metrics.socketConnections.dec({ kind: conn.transport.kind });
      conn.markClosed();
    },
  };
}
