import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { listUserRoomIds } from '../db/queries/rooms.ts';
import { rooms } from '../events/rooms.ts';

export interface Audience {
  /** Every room a new connection of this user joins: everyone's, the user's own, and each chat room they are in. */
  roomsFor(userId: string): Promise<string[]>;
}

export function createAudience(deps: { db: Kysely<DB> }): Audience {
  return {
    async roomsFor(userId) {
      const roomIds = await listUserRoomIds(deps.db, userId);
      return [rooms.global, rooms.user(userId), ...roomIds.map(rooms.room)];
    },
  };
}
