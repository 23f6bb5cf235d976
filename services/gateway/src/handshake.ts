import type { IncomingMessage } from 'node:http';
import { pickToken, type Authenticator } from '@chat/shared/auth/authenticator';
import type { TokenClaims } from '@chat/shared/auth/tokens';
import { listUserRoomIds } from '@chat/shared/db/queries/rooms';
import type { Executor } from '@chat/shared/db/database';
import { rooms } from '@chat/shared/events/rooms';

export interface Handshake {
  /** Browsers always send Origin; native clients (curl, k6, apps) send none and are let through. */
  originAllowed(req: IncomingMessage): boolean;
  /** Verifies the token exactly as the API does, revocation included, and finds the rooms to join. */
  authenticate(req: IncomingMessage, authPayload?: unknown): Promise<{ claims: TokenClaims; rooms: string[] }>;
}

export function createHandshake(deps: { auth: Authenticator; db: Executor; allowedOrigins: string[] }): Handshake {
  const origins = new Set(deps.allowedOrigins);
  return {
    originAllowed(req) {
      const origin = req.headers.origin;
      return origin === undefined || origins.has(origin);
    },
    async authenticate(req, authPayload) {
      const url = new URL(req.url ?? '/', 'http://gateway');
      const token = pickToken({
        auth: authPayload,
        authorization: req.headers.authorization,
        cookieHeader: req.headers.cookie,
        query: url.searchParams.get('token'),
      });
      const claims = await deps.auth.authenticate(token);
      const roomIds = await listUserRoomIds(deps.db, claims.id);
      return { claims, rooms: [rooms.global, rooms.user(claims.id), ...roomIds.map(rooms.room)] };
    },
  };
}
