import type { Feed } from '@chat/shared/chat';
import type { Delivery } from '@chat/shared/events';
import type { Metrics } from '@chat/shared/metrics';
import { broadcast, messageEvent, type Connection, type TransportKind } from '../connection/connection.ts';
import type { LocalRooms } from '../connection/local-rooms.ts';

export interface LocalFanout {
  /** Sends a message to every local connection in its rooms, each once, whatever its transport. */
  deliver(delivery: Delivery): void;
  /** Sends a message to the connections in `userRoom` that are not in `except`. */
  deliverToUser(userRoom: string, delivery: Delivery, except: string): void;
}

/** The gateway's last step of delivery: the stream's messages to its own connections, through the one room index. */
export function createLocalFanout(deps: { rooms: LocalRooms<Connection>; feed: Feed; metrics: Metrics }): LocalFanout {
  const { rooms, feed, metrics } = deps;

  function count(sent: Map<TransportKind, number>, ageSeconds: number) {
    for (const [kind, recipients] of sent) {
      if (recipients === 0) continue;
      metrics.deliveries.inc({ kind }, recipients);
      metrics.deliveryLatency.observe({ kind }, Math.max(0, ageSeconds));
    }
  }

  return {
    deliver(d) {
      const sent = broadcast(rooms.membersOf(d.rooms), messageEvent(feed.cursors, d));
      count(sent, (Date.now() - Date.parse(d.message.created_at)) / 1000);
      let total = 0;
      for (const n of sent.values()) total += n;
      if (total > 0) metrics.clusterEventsDelivered.inc({ event: 'deliver' });
    },

    deliverToUser(userRoom, d, except) {
      const members = [...rooms.membersOf([userRoom])].filter((conn) => !rooms.isIn(conn, except));
      broadcast(members, messageEvent(feed.cursors, d));
    },
  };
}
