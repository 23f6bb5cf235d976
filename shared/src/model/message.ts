import { z } from 'zod';

/**
 * A stored message as every client sees it, over REST and both socket kinds.
 * The schema is the single definition: the type is inferred from it, and the
 * gateways check cluster events against it, so a field added here reaches
 * every transport or fails to typecheck.
 */
export const chatMessage = z.object({
  id: z.string(),
  sender: z.string(),
  recipient: z.string().nullable(),
  room_id: z.string().nullable(),
  content: z.string(),
  created_at: z.string(),
});

export type ChatMessage = z.infer<typeof chatMessage>;

/** A stored message with its position in the commit-ordered log and its audience. */
export interface LoggedMessage {
  seq: number;
  senderId: string;
  recipientId: string | null;
  message: ChatMessage;
}
