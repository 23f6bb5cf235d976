import { z } from 'zod';
import { id, username } from '@chat/shared/chat';

const userRef = z.union([username, id('user')], { error: 'must be a username or a user id' });

export const betweenParams = z.object({ user1: userRef, user2: userRef });

export const messageParams = z.object({ id: id('message id') });

/** The emoji is checked by the reaction rules (one emoji, or a :short_code:). */
export const reactionParams = messageParams.extend({ emoji: z.string() });
