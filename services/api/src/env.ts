import type { TokenClaims } from '@chat/shared/auth';
import type { Logger } from '@chat/shared/logger';

/** Hono context variables set by the middleware. */
export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    claims: TokenClaims;
    /** The client's address for per-address limits (middleware/client-address.ts). */
    clientAddress: string;
  };
}
