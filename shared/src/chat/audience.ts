import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { listDirectPartners } from '../db/queries/messages.ts';
import { listRoomIdsOfUsers } from '../db/queries/rooms.ts';
import { rooms } from '../events/rooms.ts';

export interface Audience {
  /** Every room a new connection of this user joins: everyone's, the user's own, and each chat room they are in. */
  roomsFor(userId: string): Promise<string[]>;
  /**
   * The rooms of everyone who shares a conversation with this user: each chat
   * room they are in, and the user room of each partner of a direct
   * conversation (not `global`, not their own). What their presence is sent to,
   * besides those who watch them; read by index, one probe per room and partner.
   */
  contactRooms(userId: string): Promise<string[]>;
}

/** Users whose rooms one query reads at most. */
const ROOM_READ_BATCH = 500;

export function createAudience(deps: { db: Kysely<DB> }): Audience {
  // Connects come in bursts (a reconnect storm brings thousands within seconds),
  // and each needs its user's rooms. The reads asked for in one turn of the event
  // loop share one query: a round trip to PostgreSQL costs the gateway more than
  // the rest of the read (the write that wakes a backend is the largest single
  // cost of a connect, scripts/bench/connect-cost.ts). Nothing is cached: each
  // read sees memberships as committed when its batch runs, after it was asked.
  const chatRooms = new DataLoader<string, string[]>(
    async (userIds) => {
      const byUser = await listRoomIdsOfUsers(deps.db, userIds);
      return userIds.map((id) => byUser.get(id) ?? []);
    },
    { cache: false, maxBatchSize: ROOM_READ_BATCH, batchScheduleFn: (run) => setImmediate(run) },
  );

  return {
    async roomsFor(userId) {
      const roomIds = await chatRooms.load(userId);
      return [rooms.global, rooms.user(userId), ...roomIds.map(rooms.room)];
    },
    async contactRooms(userId) {
      const [roomIds, partners] = await Promise.all([chatRooms.load(userId), listDirectPartners(deps.db, userId)]);
      return [...roomIds.map(rooms.room), ...partners.map(rooms.user)];
    },
  };
}
