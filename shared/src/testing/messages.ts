import type { ChatMessage } from '../model/message.ts';

/**
 * A message as clients see it, for fixtures: what a test names, and every
 * other field as a new, unchanged message has it (not edited, not deleted, no
 * reactions, not in a thread, no attachments). A field added to the model is added here once.
 */
export function messageFixture(fields: Pick<ChatMessage, 'id' | 'content'> & Partial<ChatMessage>): ChatMessage {
  return {
    sender: 'a',
    recipient: null,
    room_id: null,
    created_at: new Date().toISOString(),
    edited_at: null,
    deleted_at: null,
    reactions: [],
    reply_to: null,
    reply_count: 0,
    last_reply_at: null,
    attachments: [],
    ...fields,
  };
}
