import { z } from 'zod';

/**
 * A stored message as every client sees it, over REST and both socket kinds.
 * The schema is the single definition: the type is inferred from it, and the
 * gateways check cluster events against it, so a field added here reaches
 * every transport or fails to typecheck.
 */
/** The reactions to a message, one entry per emoji, ordered by each emoji's earliest reaction still standing. */
const reactionSummary = z.object({
  emoji: z.string(),
  count: z.number().int().positive(),
  /** The first 10 who reacted so, by username. */
  users: z.array(z.string()),
});

/** A file a message carries (an upload): download it from `url`; images say their size in pixels. */
const attachmentSummary = z.object({
  id: z.string(),
  name: z.string(),
  size: z.number().int().nonnegative(),
  content_type: z.string(),
  url: z.string(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});

export const chatMessage = z.object({
  id: z.string(),
  sender: z.string(),
  recipient: z.string().nullable(),
  room_id: z.string().nullable(),
  content: z.string(),
  created_at: z.string(),
  /** When the sender last edited it; null if never. */
  edited_at: z.string().nullable(),
  /** When it was deleted (its content is then empty); null while it stands. */
  deleted_at: z.string().nullable(),
  reactions: z.array(reactionSummary),
  /** The root of the thread this message replies in; null for a message that is not a reply. */
  reply_to: z.string().nullable(),
  /** On a thread's root: how many replies it has, and when the last came. */
  reply_count: z.number().int().nonnegative(),
  last_reply_at: z.string().nullable(),
  /** The files it carries, in the order the sender named them; emptied when it is deleted (the files with it). */
  attachments: z.array(attachmentSummary),
});

export type ChatMessage = z.infer<typeof chatMessage>;

/** What a log entry records: a new message, or a change to one (messages_changes migration). */
export type LogEntryKind = 'created' | 'updated' | 'deleted';

/** A log entry (a stored message, or a change to one, with the message as it is now), its position in the commit-ordered log and its audience. */
export interface LoggedMessage {
  seq: number;
  kind: LogEntryKind;
  senderId: string;
  recipientId: string | null;
  message: ChatMessage;
}
