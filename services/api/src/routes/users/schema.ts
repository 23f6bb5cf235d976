import { z } from 'zod';
import { id, pageLimit, username } from '@chat/shared/chat';

export const usersQuery = z.object({
  limit: pageLimit,
  after: username.optional(),
});

export const userParams = z.object({ userId: id('userId') });
