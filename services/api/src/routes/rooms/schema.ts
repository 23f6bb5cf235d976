import { z } from 'zod';
import { id, text } from '@chat/shared/chat';

export const roomBody = z.object({
  name: text('name', 1, 100)
    .transform((s) => s.trim())
    .pipe(z.string().min(1, 'name must not be blank')),
  description: text('description', 0, 1000).default(''),
});

export const roomParams = z.object({ roomId: id('roomId') });
export const memberParams = z.object({ roomId: id('roomId'), userId: id('userId') });
