/**
 * Domain errors: a stable `code` plus a human message. They know nothing about
 * HTTP or sockets; each transport maps the code once (see the API's error
 * handler and the gateway's error frames).
 */
export const ERROR_CODES = [
  'validation_failed',
  'invalid_cursor',
  'bad_request',
  'payload_too_large',
  'upgrade_required',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'refresh_not_allowed',
  'busy',
  'rate_limited',
  'unavailable',
  'internal',
] as const;

/** The closed vocabulary every error body and error frame uses; clients may switch on it. */
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetail {
  field: string;
  message: string;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  /** Whole seconds the client should wait before trying again (`rate_limited` carries its own). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetail[], cause?: unknown, retryAfterSeconds?: number) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export const invalid = (message: string, details?: ErrorDetail[]) => new DomainError('validation_failed', message, details);
export const unauthenticated = (message = 'authentication required') => new DomainError('unauthenticated', message);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (message: string) => new DomainError('conflict', message);
export const busy = (message: string) => new DomainError('busy', message);
/** A cluster-wide limit refused the request; `retryAfterSeconds` is when the limit lets the next one through. */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new DomainError('rate_limited', message, undefined, undefined, Math.max(1, Math.ceil(retryAfterSeconds)));

/** Runs `read` against a backing service; its failure becomes an `unavailable` error. */
export async function orUnavailable<T>(read: () => Promise<T>, message: string): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new DomainError('unavailable', message, undefined, error);
  }
}
