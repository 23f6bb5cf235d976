import { z } from 'zod';
import { chatMessage, type LoggedMessage } from '../model/message.ts';

/** What a webhook may hear: each a kind of log entry. */
export const WEBHOOK_EVENTS = ['message.created', 'message.updated', 'message.deleted', 'reaction.added', 'reaction.removed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The body of every delivery (docs/webhooks.md; OpenAPI `webhooks`). */
export const webhookPayload = z.object({
  id: z.string().meta({ description: "The event's id, the same on every retry (and in the `webhook-id` header): deduplicate by it" }),
  type: z.enum(WEBHOOK_EVENTS),
  seq: z.number().int().meta({ description: "The event's position in the log: deliveries to one webhook come in increasing `seq`" }),
  webhook_id: z.string(),
  conversation: z.string().meta({ description: "As the webhook's owner names it: `global`, `user:<the other user's id>` or `room:<room id>`" }),
  data: z.object({
    message: chatMessage.meta({
      description: 'The message as it is when the event is delivered: a late delivery shows later edits, and a deleted message no content',
    }),
    reaction: z
      .object({ emoji: z.string(), user: z.string().meta({ description: 'Who reacted, by username' }) })
      .optional()
      .meta({ description: 'For `reaction.added` and `reaction.removed`' }),
  }),
});
export type WebhookPayload = z.infer<typeof webhookPayload>;

/** What a change entry was, beyond its kind: from `message_changes`. */
export interface ChangeDetail {
  id: string;
  reaction: string | null;
  added: boolean | null;
  actor: string | null;
}

/** The event a log entry is, and its id: a new message's id, or its change's. */
function eventOf(entry: LoggedMessage, change: ChangeDetail | undefined): { type: WebhookEvent; id: string } {
  if (entry.kind === 'created') return { type: 'message.created', id: entry.message.id };
  const id = change?.id ?? `${entry.message.id}:${entry.seq}`;
  if (entry.kind === 'deleted') return { type: 'message.deleted', id };
  if (change?.reaction) return { type: change.added ? 'reaction.added' : 'reaction.removed', id };
  return { type: 'message.updated', id };
}

/** `entry`'s conversation, as `ownerId` names it. */
function conversationFor(entry: LoggedMessage, ownerId: string): string {
  if (entry.message.room_id) return `room:${entry.message.room_id}`;
  if (entry.recipientId === null) return 'global';
  return `user:${entry.senderId === ownerId ? entry.recipientId : entry.senderId}`;
}

export function buildPayload(webhookId: string, ownerId: string, entry: LoggedMessage, change: ChangeDetail | undefined): WebhookPayload {
  const { type, id } = eventOf(entry, change);
  const reaction =
    change?.reaction && (type === 'reaction.added' || type === 'reaction.removed') ? { emoji: change.reaction, user: change.actor ?? '' } : undefined;
  return {
    id,
    type,
    seq: entry.seq,
    webhook_id: webhookId,
    conversation: conversationFor(entry, ownerId),
    data: reaction ? { message: entry.message, reaction } : { message: entry.message },
  };
}
