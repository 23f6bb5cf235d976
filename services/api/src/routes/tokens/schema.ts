import { z } from 'zod';
import { id } from '@chat/shared/chat';

export const tokenParams = z.object({ id: id('token id') });
