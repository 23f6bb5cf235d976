import { DomainError, type ErrorCode, type ErrorDetail } from '../errors.ts';

/** What a client sees of a failure, in an HTTP body, an ack or an error frame alike. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
  details?: ErrorDetail[];
  /** Seconds until a retry can succeed; set on `rate_limited` (HTTP also sends it as Retry-After). */
  retry_after?: number;
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 426 | 429 | 500 | 503;

/** The one code -> HTTP status table: the API's responses and the gateway's refused upgrades. */
export const HTTP_STATUS: Record<ErrorCode, ErrorStatus> = {
  validation_failed: 400,
  bad_request: 400,
  invalid_cursor: 400,
  refresh_not_allowed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  upgrade_required: 426,
  rate_limited: 429,
  internal: 500,
  busy: 503,
  unavailable: 503,
};

/**
 * Seconds a client should wait before retrying, for the answers that mean "not now":
 * the limit's own wait for `rate_limited`, one second for `busy` and `unavailable`.
 */
export function retryAfterSeconds(body: Pick<ErrorBody, 'code' | 'retry_after'>): number | undefined {
  if (body.retry_after !== undefined) return body.retry_after;
  return body.code === 'busy' || body.code === 'unavailable' ? 1 : undefined;
}

/** Unknown failures are never described to clients: the details go to the log only. */
export const INTERNAL_ERROR: ErrorBody = { error: 'internal server error', code: 'internal' };

export function presentError(error: DomainError): ErrorBody {
  return {
    error: error.message,
    code: error.code,
    ...(error.details ? { details: error.details } : {}),
    ...(error.retryAfterSeconds === undefined ? {} : { retry_after: error.retryAfterSeconds }),
  };
}

/** For errors raised by a framework with only a status (Hono's HTTPException): the code that status stands for. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400) return 'bad_request';
  const match = (Object.entries(HTTP_STATUS) as Array<[ErrorCode, number]>).find(([, s]) => s === status);
  return match?.[0] ?? (status >= 500 ? 'internal' : 'bad_request');
}

/** A domain error as the client sees it; anything else is the generic internal error. */
export function describeError(error: unknown): ErrorBody {
  return error instanceof DomainError ? presentError(error) : INTERNAL_ERROR;
}
