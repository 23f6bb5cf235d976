import type { IncomingMessage } from 'node:http';
import { authenticatesByCookie, type Authenticator, checkCsrf, pickToken, requireScope, type TokenClaims } from '@chat/shared/auth';
import type { Audience } from '@chat/shared/chat';
import { clientAddress, type Limiter, type ProxyTrust } from '@chat/shared/limits';

export interface Handshake {
  /** Browsers always send Origin; native clients (curl, k6, apps) send none and are let through. */
  originAllowed(req: IncomingMessage): boolean;
  /**
   * Why a state-changing HTTP request (a Socket.IO long-polling POST) that only the
   * jwt_token cookie authenticates is refused as cross-site, or undefined when it
   * may go on: the API's rule, shared/src/auth/csrf.ts.
   */
  crossSiteRefusal(req: IncomingMessage): string | undefined;
  /** Verifies the token exactly as the API does, revocation included, and finds the rooms to join. */
  authenticate(req: IncomingMessage, authPayload?: unknown): Promise<{ claims: TokenClaims; rooms: string[] }>;
  /** Checks revocation again, once the connection is registered for revocation events; throws if revoked. */
  recheck(claims: TokenClaims): Promise<void>;
}

/** HANDSHAKE_ADDRESS_LIMIT and CONNECT_USER_LIMIT, for both socket kinds; none in tests that build a handshake bare. */
export interface ConnectionLimits {
  perAddress: Limiter;
  perUser: Limiter;
  proxyTrust: ProxyTrust;
}

export function createHandshake(deps: { auth: Authenticator; audience: Audience; allowedOrigins: string[]; limits?: ConnectionLimits }): Handshake {
  const origins = new Set(deps.allowedOrigins);
  const { limits } = deps;
  return {
    originAllowed(req) {
      const origin = req.headers.origin;
      return origin === undefined || origins.has(origin);
    },
    crossSiteRefusal(req) {
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const verdict = checkCsrf(
        {
          method: req.method ?? 'GET',
          origin: header('origin'),
          secFetchSite: header('sec-fetch-site'),
          cookieAuthenticated: authenticatesByCookie({ authorization: req.headers.authorization, cookieHeader: req.headers.cookie }),
        },
        origins,
      );
      return verdict.allowed ? undefined : verdict.reason;
    },
    async authenticate(req, authPayload) {
      // Per address before the token is even looked at; per user once it is known.
      if (limits) {
        const headers = { forwardedFor: req.headers['x-forwarded-for'], realIp: req.headers['x-real-ip'] };
        await limits.perAddress.consume(clientAddress(req.socket.remoteAddress, headers, limits.proxyTrust));
      }
      const url = new URL(req.url ?? '/', 'http://gateway');
      const token = pickToken({
        auth: authPayload,
        authorization: req.headers.authorization,
        cookieHeader: req.headers.cookie,
        query: url.searchParams.get('token'),
      });
      const claims = await deps.auth.authenticate(token);
      // A connection receives messages: a token without the read scope may not hold one.
      requireScope(claims, 'messages:read');
      await limits?.perUser.consume(claims.id);
      return { claims, rooms: await deps.audience.roomsFor(claims.id) };
    },
    recheck: (claims) => deps.auth.recheck(claims),
  };
}
