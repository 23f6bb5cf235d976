import type { ConversationService, MessageService } from '@chat/shared/chat';
import type { CommandName, CommandReply } from '@chat/shared/events';
import type { Metrics } from '@chat/shared/metrics';
import type { Connection } from './connection.ts';
import type { PresenceWatch } from './presence.ts';

/**
 * One handler per command of `clientCommands` (shared/src/events/frames.ts),
 * whichever transport it came on: the rules live in the shared package, the
 * answer is the command's reply.
 */
export type CommandHandlers = { [C in CommandName]: (conn: Connection, input: unknown) => Promise<CommandReply<C>> };

/** The `id` a change command names (the rules validate it). */
const idOf = (input: unknown) => (typeof input === 'object' && input !== null ? (input as { id?: unknown }).id : undefined);

export function createCommands(deps: {
  messages: MessageService;
  conversations: ConversationService;
  watchPresence: PresenceWatch;
  metrics: Metrics;
}): CommandHandlers {
  return {
    async message(conn, input) {
      const { message, duplicate } = await deps.messages.send(conn.claims, input);
      if (!duplicate) deps.metrics.messagesStored.inc({ transport: conn.transport.kind });
      return { message };
    },
    edit: async (conn, input) => ({ message: await deps.messages.edit(conn.claims, idOf(input), input) }),
    delete: async (conn, input) => ({ message: await deps.messages.remove(conn.claims, idOf(input), input) }),
    react: async (conn, input) => ({ message: await deps.messages.react(conn.claims, idOf(input), input) }),
    read: (conn, input) => deps.conversations.markReadCommand(conn.claims, input),
    typing: (conn, input) => deps.conversations.typing(conn.claims, input),
    presence_watch: (conn, input) => deps.watchPresence(conn, input),
  };
}
