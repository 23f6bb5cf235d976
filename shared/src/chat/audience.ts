import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { listDirectPartners } from '../db/queries/messages.ts';
import { listUserRoomIds } from '../db/queries/rooms.ts';
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

export function createAudience(deps: { db: Kysely<DB> }): Audience {
  return {
    async roomsFor(userId) {
      const roomIds = await listUserRoomIds(deps.db, userId);
      return [rooms.global, rooms.user(userId), ...roomIds.map(rooms.room)];
    },
    async contactRooms(userId) {
      const [roomIds, partners] = await Promise.all([listUserRoomIds(deps.db, userId), listDirectPartners(deps.db, userId)]);
      return [...roomIds.map(rooms.room), ...partners.map(rooms.user)];
    },
  };
}
