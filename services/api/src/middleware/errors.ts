import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DomainError } from '@chat/shared/errors';
import { codeForStatus, HTTP_STATUS, INTERNAL_ERROR, presentError, retryAfterSeconds, type ErrorBody } from '@chat/shared/presenters';
import type { AppEnv } from '../env.ts';

function reply(c: Context<AppEnv>, body: ErrorBody, status: ContentfulStatusCode = HTTP_STATUS[body.code]) {
  const retryAfter = retryAfterSeconds(body);
  if (retryAfter !== undefined) c.header('Retry-After', String(retryAfter));
  return c.json(body, status);
}

/** The one place errors become HTTP responses. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof DomainError) {
    if (error.cause !== undefined) c.get('log').warn({ err: error.cause, code: error.code }, error.message);
    return reply(c, presentError(error));
  }
  if (error instanceof HTTPException && error.status < 500) {
    return reply(c, { error: error.message || 'bad request', code: codeForStatus(error.status) }, error.status);
  }
  c.get('log').error({ err: error }, 'unhandled error');
  return c.json({ ...INTERNAL_ERROR, request_id: c.get('requestId') }, 500);
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) => reply(c, { error: 'not found', code: 'not_found' });

/** Hono's body limit answers through this, so an oversize body gets the usual error shape. */
export const onBodyTooLarge = (limitBytes: number) => (c: Context<AppEnv>) =>
  reply(c, { error: `request body exceeds ${limitBytes} bytes`, code: 'payload_too_large' });
