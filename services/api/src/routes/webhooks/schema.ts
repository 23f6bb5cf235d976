import { z } from 'zod';
import { id } from '@chat/shared/chat';

export const webhookParams = z.object({ id: id('webhook id') });
