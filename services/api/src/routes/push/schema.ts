import { z } from 'zod';
import { id } from '@chat/shared/chat';

export const subscriptionParams = z.object({ id: id('subscription id') });
