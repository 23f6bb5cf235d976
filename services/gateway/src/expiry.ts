import type { TokenClaims } from '@chat/shared/auth';

// setTimeout cannot wait longer than this; longer tokens re-arm when it fires.
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Calls `onExpired` when the connection's token expires; returns a cancel function. */
export function whenTokenExpires(claims: TokenClaims, onExpired: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = claims.exp * 1000 - Date.now();
    if (delay <= 0) return onExpired();
    timer = setTimeout(arm, Math.min(delay, MAX_DELAY_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
