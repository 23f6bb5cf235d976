import { z } from 'zod';
import { username } from '@chat/shared/chat';

// The upper bound keeps a hostile client from making argon2 chew megabytes.
const password = z
  .string({ error: 'password must be a string' })
  .min(8, 'password must be at least 8 characters')
  .max(128, 'password must be at most 128 characters');

export const registerBody = z.object({
  username,
  email: z.email({ error: 'email must be a valid email address' }).max(254, 'email must be at most 254 characters'),
  password,
});

export const loginBody = z.object({
  username: z.string({ error: 'username must be a string' }).min(1, 'username is required').max(64),
  password: z.string({ error: 'password must be a string' }).min(1, 'password is required').max(128),
});
