import { z } from 'zod';
import { id, pageLimit, username } from '@chat/shared/chat';

export const usersQuery = z.object({
  limit: pageLimit,
  after: username.optional(),
});

export const userParams = z.object({ userId: id('userId') });

/** `GET /api/users/{id}/rooms`: up to 100 a page (by default all a user may have at the default cap). */
export const userRoomsQuery = z.object({
  limit: pageLimit.default(100),
  after: id('after').optional(),
  before: id('before').optional(),
});
