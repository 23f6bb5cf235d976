import { DomainError } from '@chat/shared/errors';
import type { Logger } from '@chat/shared/logger';

export interface ClientError {
  error: string;
  code: string;
}

/** The one place errors become what a socket client sees: the domain message, or a generic one. */
export function toClientError(error: unknown, logger: Logger): ClientError {
  if (error instanceof DomainError) {
    if (error.cause !== undefined) logger.warn({ err: error.cause, code: error.code }, error.message);
    return { error: error.message, code: error.code };
  }
  logger.error({ err: error }, 'unhandled error while serving a socket');
  return { error: 'internal error', code: 'internal' };
}
