/**
 * A conversation as its reader names it, on every transport: `global`,
 * `user:<the other user's id>` (the direct conversation with them; one's own
 * id names the notes one sends oneself) or `room:<room id>`. The same direct
 * conversation is `user:<b>` to a and `user:<a>` to b.
 */
export type ConversationRef = { kind: 'global' } | { kind: 'direct'; userId: string } | { kind: 'room'; roomId: string };

export type ConversationKind = ConversationRef['kind'];

/** The id of `ref`, as its reader names it. */
export function conversationId(ref: ConversationRef): string {
  if (ref.kind === 'global') return 'global';
  return ref.kind === 'direct' ? `user:${ref.userId}` : `room:${ref.roomId}`;
}

/** One row of a user's conversation list. */
export interface ConversationSummary<M> {
  id: string;
  kind: ConversationKind;
  /** `global`, the other user's username, or the room's name. */
  title: string;
  last_message: M | null;
  /** Visible messages by others after `read_up_to`, counted no further than the cap. */
  unread_count: number;
  unread_capped: boolean;
  /** The last message the user marked read here; null if none. */
  read_up_to: string | null;
  /** The last message's time (a room without messages: when the user joined it). */
  updated_at: string;
  /** Direct conversations: whether the other user is online now; null elsewhere. */
  online: boolean | null;
}

/** How far one user has read one conversation. */
export interface ReadPosition {
  conversation: string;
  message_id: string;
  updated_at: string;
}
