import type { IncomingMessage } from 'node:http';
import { type Authenticator, pickToken, type TokenClaims } from '@chat/shared/auth';
import type { Audience } from '@chat/shared/chat';

export interface Handshake {
  /** Browsers always send Origin; native clients (curl, k6, apps) send none and are let through. */
  originAllowed(req: IncomingMessage): boolean;
  /** Verifies the token exactly as the API does, revocation included, and finds the rooms to join. */
  authenticate(req: IncomingMessage, authPayload?: unknown): Promise<{ claims: TokenClaims; rooms: string[] }>;
}

export function createHandshake(deps: { auth: Authenticator; audience: Audience; allowedOrigins: string[] }): Handshake {
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
      return { claims, rooms: await deps.audience.roomsFor(claims.id) };
    },
  };
}
