import type { TokenClaims } from '@chat/shared/auth';
import type { Logger } from '@chat/shared/logger';
import type { PresenceWriter } from '@chat/shared/presence';
import type { ChatServer } from '../transports/socketio-types.ts';

export interface PresenceTracker {
  start(): Promise<void>;
  connected(claims: TokenClaims): void;
  disconnected(claims: TokenClaims): void;
  stop(): Promise<void>;
}

/**
 * Counts this gateway's connections in cluster presence and announces a
 * user's first connection and last disconnection, cluster-wide, to Socket.IO
 * clients. Presence is best effort: a Redis error is logged, never thrown
 * into a connection.
 */
export function createPresenceTracker(deps: { writer: PresenceWriter; io: ChatServer; logger: Logger; leaseMs: number }): PresenceTracker {
  const { writer, io, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  const logFailure = (error: unknown) => logger.warn({ err: error }, 'presence update failed');

  const announce = (claims: TokenClaims, status: 'online' | 'offline') =>
    io.emit('presence', { user_id: claims.id, username: claims.username, status });

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
