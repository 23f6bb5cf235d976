import type { MessageService } from '@chat/shared/chat';
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

export function createCommands(deps: { messages: MessageService; watchPresence: PresenceWatch; metrics: Metrics }): CommandHandlers {
  return {
    async message(conn, input) {
      const { message, duplicate } = await deps.messages.send(conn.claims, input);
      if (!duplicate) deps.metrics.messagesStored.inc({ transport: conn.transport.kind });
      return { message };
    },
    presence_watch: (conn, input) => deps.watchPresence(conn, input),
  };
}
