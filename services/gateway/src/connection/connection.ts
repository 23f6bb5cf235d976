import type { TokenClaims } from '@chat/shared/auth';
import type { CursorCodec } from '@chat/shared/chat';
import type { Delivery, ServerEvent } from '@chat/shared/events';
import type { Expiring } from './expiry.ts';
import type { TokenHolder } from './local-tokens.ts';
import type { SerialQueue } from './serial.ts';

/** Why the server ends a connection; each transport says it its own way (the plain WebSocket with a close code). */
export type CloseReason = 'token_revoked' | 'token_expired' | 'try_again' | 'going_away';

/** The metrics label of a transport. */
export type TransportKind = 'socketio' | 'websocket';

/** What the handshake established for a connection before its transport accepted it. */
export interface Admitted {
  claims: TokenClaims;
  /** The rooms it joins when it goes live. */
  rooms: string[];
  /** The log position to resume after, when the client sent a cursor. */
  since: number | undefined;
}

/** One socket protocol, as the gateway's delivery sees it. */
export interface Transport {
  readonly kind: TransportKind;
  /**
   * Sends `event` to each of `connections`, all of them this transport's own,
   * encoding it once; returns how many it was sent to.
   */
  broadcast(connections: readonly Connection[], event: ServerEvent): number;
}

/**
 * One client connection, whatever its transport: who it is, the rooms it
 * joins when it goes live, its queue of commands, and the few things a
 * transport must say in its own framing. The connection lifecycle
 * (lifecycle.ts) drives every connection the same way; a transport subclasses
 * this and turns its events into calls of the lifecycle.
 *
 * A class with fields, not closures: a gateway holds tens of thousands of
 * these, most of them idle.
 */
export abstract class Connection implements TokenHolder, Expiring {
  readonly claims: TokenClaims;
  /** See TokenHolder.rooms: a membership change before going live edits this list. */
  readonly rooms: string[];
  readonly since: number | undefined;
  /** Its commands, one at a time in arrival order; the first task is the post-accept re-check. */
  readonly queue: SerialQueue;
  /** Set once it has joined `rooms`; from then on membership changes move it directly. */
  live = false;
  #closed = false;
  #closeListeners: Array<() => void> | undefined;

  abstract readonly transport: Transport;

  constructor(admitted: Admitted, queue: SerialQueue) {
    this.claims = admitted.claims;
    this.rooms = admitted.rooms;
    this.since = admitted.since;
    this.queue = queue;
  }

  /** Whether frames sent now can still reach the client. */
  abstract isOpen(): boolean;
  /** Sends one event to this client. */
  abstract send(event: ServerEvent): void;
  /** Resolves once the client has taken most of what was sent (or has gone): replay goes only as fast as it reads. */
  abstract drained(): Promise<void>;
  /** Ends the connection; the transport reports the close to the lifecycle when it has happened. */
  abstract close(reason: CloseReason, text: string): void;
  /**
   * The transport's own greeting once the connection is live or starts to
   * resume: `cursor` is its resume point when it is not resuming.
   */
  abstract greet(cursor: string | undefined): void;

  revoke(): void {
    this.close('token_revoked', 'token revoked');
  }

  expire(): void {
    this.close('token_expired', 'token expired');
  }

  /** Calls `listener` once the connection has closed (at once if it has). */
  whenClosed(listener: () => void): void {
    if (this.#closed) return listener();
    (this.#closeListeners ??= []).push(listener);
  }

  /** Called by the lifecycle when the transport reports the close. */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    const listeners = this.#closeListeners ?? [];
    this.#closeListeners = undefined;
    for (const listener of listeners) listener();
  }
}

/**
 * Sends `event` to every one of `connections` (each once), each transport
 * encoding it once for all of its own; returns how many it went to per kind.
 */
export function broadcast(connections: Iterable<Connection>, event: ServerEvent): Map<TransportKind, number> {
  const byTransport = new Map<Transport, Connection[]>();
  for (const conn of connections) {
    const group = byTransport.get(conn.transport);
    if (group) group.push(conn);
    else byTransport.set(conn.transport, [conn]);
  }
  const sent = new Map<TransportKind, number>();
  for (const [transport, group] of byTransport) sent.set(transport.kind, (sent.get(transport.kind) ?? 0) + transport.broadcast(group, event));
  return sent;
}

/** The event that carries one stored message to a client, with the cursor that stands for it. */
export const messageEvent = (cursors: CursorCodec, d: Delivery): ServerEvent => ({
  event: d.event,
  data: { message: d.message, cursor: cursors.forMessage(d.seq) },
});
