import type { z } from 'zod';
import { ephemeralEvents, type EphemeralEventName, type EphemeralFrame } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { Connection } from '../connection/connection.ts';
import type { LocalRooms } from '../connection/local-rooms.ts';
import type { EphemeralOutbox } from '../connection/outbox.ts';

/**
 * What an ephemeral frame (presence) does on this gateway: its payload is
 * checked against the shared schema, and the local connections in its rooms
 * (the router names only the rooms this gateway is registered for) get it
 * through the outbox, which coalesces and sends once per interval. Applied
 * as it arrives, outside the ordered stream of messages: it carries no
 * number, is never replayed, and a lost one stays lost.
 */
export function createEphemeralDispatch(deps: {
  local: LocalRooms<Connection>;
  outbox: Pick<EphemeralOutbox, 'add'>;
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
    const members = local.membersOf(frame.rooms);
    if (members.size === 0) return;
    metrics.clusterEventsDelivered.inc({ event });
    // Sound: the schema of `event` parsed exactly its payload.
    outbox.add(members, event, parsed.data as z.infer<(typeof ephemeralEvents)[typeof event]>);
  };
}
