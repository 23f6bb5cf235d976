import type { HttpBindings } from '@hono/node-server';
import type { TokenClaims } from '@chat/shared/auth';
import type { Logger } from '@chat/shared/logger';

/** Hono context variables set by the middleware. */
export interface AppEnv {
  /** The Node request and response under the Web ones (@hono/node-server); optional, as `app.request()` in tests has none. */
  Bindings: Partial<HttpBindings>;
  Variables: {
    requestId: string;
    log: Logger;
    claims: TokenClaims;
    /** The client's address for per-address limits (middleware/client-address.ts). */
    clientAddress: string;
  };
}
