import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DomainError, type ErrorCode } from '@chat/shared/errors';
import type { AppEnv } from '../env.ts';

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  validation_failed: 400,
  refresh_not_allowed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  busy: 503,
  unavailable: 503,
};

/** The one place domain errors become HTTP responses. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof DomainError) {
    if (error.code === 'busy' || error.code === 'unavailable') c.header('Retry-After', '1');
    if (error.cause !== undefined) c.get('log').warn({ err: error.cause, code: error.code }, error.message);
    const body = { error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) };
    return c.json(body, STATUS[error.code]);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json({ error: error.message || 'bad request' }, error.status);
  }
  c.get('log').error({ err: error }, 'unhandled error');
  return c.json({ error: 'internal server error', request_id: c.get('requestId') }, 500);
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) => c.json({ error: 'not found', code: 'not_found' }, 404);
