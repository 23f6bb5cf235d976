// Cross-site request forgery: the one rule both transports apply (the API's
// middleware, the gateway's Engine.IO `allowRequest`). Pure: no HTTP types.
//
// Only the `jwt_token` cookie is ambient (a browser attaches it to a request any
// site makes); a Bearer header or a Socket.IO auth payload must be set by code
// running on an allowed origin, so such requests are never forgeries. A state-
// changing request authenticated by the cookie alone must therefore show where
// it comes from:
//
//   * Origin present: it must be one of CORS_ALLOWED_ORIGINS.
//   * No Origin, Sec-Fetch-Site present: `same-origin` or `none` (the user typed
//     the address or used a bookmark) pass; `same-site` and `cross-site` do not
//     (a sibling subdomain is another application).
//   * Neither header: not a browser (curl, k6, the seed's scripts, tests) or one
//     too old to matter; a browser that makes a cross-origin non-GET request always
//     sends Origin, so this cannot be forged from a page.
//
// Safe methods (GET, HEAD, OPTIONS) change nothing and pass.

import { pickToken } from './authenticator.ts';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface CsrfRequest {
  method: string;
  /** The Origin header, if any. */
  origin: string | undefined;
  /** The Sec-Fetch-Site header, if any. */
  secFetchSite: string | undefined;
  /** Whether the request is authenticated by the ambient cookie alone (no Bearer header, no auth payload). */
  cookieAuthenticated: boolean;
}

export type CsrfVerdict = { allowed: true } | { allowed: false; reason: string };

/** Whether a request may go on; a refusal carries a message for the client. */
export function checkCsrf(request: CsrfRequest, allowedOrigins: ReadonlySet<string> | readonly string[]): CsrfVerdict {
  if (!request.cookieAuthenticated || !UNSAFE_METHODS.has(request.method.toUpperCase())) return { allowed: true };
  const origins: ReadonlySet<string> = allowedOrigins instanceof Set ? allowedOrigins : new Set(allowedOrigins);
  const origin = request.origin?.trim();
  if (origin) {
    return origins.has(origin)
      ? { allowed: true }
      : { allowed: false, reason: `cross-site request refused: origin ${origin} may not use the session cookie; send an Authorization header` };
  }
  const site = request.secFetchSite?.trim().toLowerCase();
  if (site === undefined || site === '' || site === 'same-origin' || site === 'none') return { allowed: true };
  return { allowed: false, reason: `cross-site request refused: a ${site} request may not use the session cookie; send an Authorization header` };
}

/** Whether the ambient cookie is what authenticates: a cookie token and no explicit credential beside it (see `pickToken`). */
export function authenticatesByCookie(sources: {
  auth?: unknown;
  authorization?: string | null | undefined;
  cookieHeader?: string | null | undefined;
}): boolean {
  if (pickToken({ auth: sources.auth, authorization: sources.authorization }) !== undefined) return false;
  return pickToken({ cookieHeader: sources.cookieHeader }) !== undefined;
}
