import { DomainError } from '@chat/shared/errors';
import type { Logger } from '@chat/shared/logger';
import { describeError, type ErrorBody } from '@chat/shared/presenters';

/** The gateway's one place errors become what a socket client sees; unknown ones are logged, never described. */
export function toClientError(error: unknown, logger: Logger): ErrorBody {
  if (error instanceof DomainError) {
    if (error.cause !== undefined) logger.warn({ err: error.cause, code: error.code }, error.message);
  } else {
    logger.error({ err: error }, 'unhandled error while serving a socket');
  }
  return describeError(error);
}
