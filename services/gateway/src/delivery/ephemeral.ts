import type { z } from 'zod';
import { ephemeralEvents, type EphemeralEventName, type EphemeralFrame, type EphemeralPayload } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { Connection } from '../connection/connection.ts';
import type { LocalRooms } from '../connection/local-rooms.ts';
import type { EphemeralSink } from '../connection/outbox.ts';

/** Events about what a user did that go to the others in the rooms, not back to that user's own connections. */
const AUTHOR: { [E in EphemeralEventName]?: (data: EphemeralPayload<E>) => string } = {
  read_receipt: (receipt) => receipt.user,
  typing: (signal) => signal.user,
};

/**
 * What an ephemeral frame (presence, read, read_receipt, typing) does on this
 * gateway: its payload is checked against the shared schema, and the local
 * connections in its rooms (the router names only the rooms this gateway is
 * registered for), less its author's own, get it through the sink, which
 * coalesces what is coalesced and sends the rest at once. Applied
 * as it arrives, outside the ordered stream of messages: it carries no
 * number, is never replayed, and a lost one stays lost.
 */
export function createEphemeralDispatch(deps: {
  local: LocalRooms<Connection>;
  outbox: EphemeralSink;
  logger: Logger;
  metrics: Metrics;
}): (frame: EphemeralFrame) => void {
  const { local, outbox, logger, metrics } = deps;
  return (frame) => {
    if (!Object.hasOwn(ephemeralEvents, frame.event)) return logger.warn({ event: frame.event }, 'dropped an unknown ephemeral event');
    const event = frame.event as EphemeralEventName;
    metrics.clusterEventsReceived.inc({ event });
    const parsed = (ephemeralEvents[event] as z.ZodType).safeParse(frame.data);
    if (!parsed.success) return logger.warn({ event, issues: parsed.error.issues }, 'dropped a malformed ephemeral event');
    // Sound: the schema of `event` parsed exactly its payload.
    const data = parsed.data as EphemeralPayload<typeof event>;
    const members = local.membersOf(frame.rooms);
    const author = (AUTHOR[event] as ((d: typeof data) => string) | undefined)?.(data);
    if (author !== undefined) for (const conn of members) if (conn.claims.id === author) members.delete(conn);
    if (members.size === 0) return;
    metrics.clusterEventsDelivered.inc({ event });
    outbox.add(members, event, data);
  };
}
