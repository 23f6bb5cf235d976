import { z } from 'zod';
import { id, pageLimit, username } from '@chat/shared/chat/schemas';

export const pageQuery = z.object({
  limit: pageLimit,
  before: id('before').optional(),
});

const userRef = z.union([username, id('user')], { error: 'must be a username or a user id' });

export const betweenParams = z.object({ user1: userRef, user2: userRef });
