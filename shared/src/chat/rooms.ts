import type { Kysely } from 'kysely';
import type { DB, RoomRow } from '../db/schema.ts';
import { listRoomMessages, logHead } from '../db/queries/messages.ts';
import {
  deleteMember,
  findRoom,
  findRoomAsMember,
  insertMember,
  insertRoom,
  isMember,
  listMembers,
  listUserRoomsPage,
  lockRoomAndCountMembers,
  lockUserAndCountRooms,
} from '../db/queries/rooms.ts';
import { findUserById } from '../db/queries/users.ts';
import { conflict, forbidden, invalid, notFound, unauthenticated } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import { pageOrWhy } from './pages.ts';
import type { Actor, ChatMessage, Page, PageResult } from '../model/index.ts';
import { requireScope } from '../auth/scopes.ts';

export interface RoomView {
  id: string;
  name: string;
  description: string;
  created_by: string | null;
  created_at: Date;
}

export interface RoomDetails extends RoomView {
  members: Array<{ id: string; username: string; joined_at: Date }>;
}

const toRoomView = (r: RoomRow): RoomView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  created_by: r.created_by,
  created_at: r.created_at,
});

export interface RoomLimits {
  /** Rooms one user may belong to (MAX_ROOMS_PER_USER). */
  maxRoomsPerUser: number;
  /** Members one room may have (MAX_MEMBERS_PER_ROOM). */
  maxMembersPerRoom: number;
}

const DEFAULT_ROOM_LIMITS: RoomLimits = { maxRoomsPerUser: 100, maxMembersPerRoom: 1000 };

export function createRoomService(deps: { db: Kysely<DB>; events: EventPublisher; limits?: RoomLimits }) {
  const { db, events } = deps;
  const limits = deps.limits ?? DEFAULT_ROOM_LIMITS;
  const roomsFull = (who: string) => conflict(`${who} already in the maximum of ${limits.maxRoomsPerUser} rooms`);

  /** Loads the room and checks that the actor belongs to it. */
  async function roomForMember(actor: Actor, roomId: string) {
    const found = await findRoomAsMember(db, roomId, actor.id);
    if (!found) throw notFound('room');
    if (!found.member) throw forbidden('you are not a member of this room');
    return found.room;
  }

  return {
    async create(actor: Actor, fields: { name: string; description: string }): Promise<RoomDetails> {
      requireScope(actor, 'rooms:write');
      const room = await db.transaction().execute(async (trx) => {
        // The user's row lock serialises their joins, so the cap cannot be raced past.
        const count = await lockUserAndCountRooms(trx, actor.id);
        if (count === undefined) throw unauthenticated('user no longer exists');
        if (count >= limits.maxRoomsPerUser) throw roomsFull('you are');
        const created = await insertRoom(trx, { ...fields, createdBy: actor.id });
        await insertMember(trx, created.id, actor.id);
        return { ...created, head: await logHead(trx) };
      });
      events.membershipChanged({ action: 'join', userId: actor.id, roomId: room.id, logHead: room.head });
      return { ...toRoomView(room), members: await listMembers(db, room.id) };
    },

    async get(actor: Actor, roomId: string): Promise<RoomDetails> {
      requireScope(actor, 'messages:read');
      const room = await roomForMember(actor, roomId);
      return { ...toRoomView(room), members: await listMembers(db, room.id) };
    },

    async messages(actor: Actor, roomId: string, page: Page): Promise<PageResult<ChatMessage>> {
      requireScope(actor, 'messages:read');
      const room = await roomForMember(actor, roomId);
      return pageOrWhy(db, actor, page, await listRoomMessages(db, room.id, actor.id, page));
    },

    /**
     * Only members may add; returns whether the user was newly added. Both caps
     * are checked under row locks (the room's, then the user's), so concurrent
     * additions cannot overshoot them.
     */
    async addMember(actor: Actor, roomId: string, userId: string): Promise<{ added: boolean }> {
      requireScope(actor, 'rooms:write');
      const room = await roomForMember(actor, roomId);
      const user = await findUserById(db, userId);
      if (!user) throw notFound('user');
      const added = await db.transaction().execute(async (trx) => {
        const members = await lockRoomAndCountMembers(trx, room.id);
        if (members === undefined) throw notFound('room');
        // Re-checked under the lock: a member removed meanwhile can no longer add.
        if (!(await isMember(trx, room.id, actor.id))) throw forbidden('you are not a member of this room');
        if (await isMember(trx, room.id, user.id)) return undefined;
        if (members >= limits.maxMembersPerRoom) throw conflict(`the room already has the maximum of ${limits.maxMembersPerRoom} members`);
        const rooms = await lockUserAndCountRooms(trx, user.id);
        if (rooms === undefined) throw notFound('user');
        if (rooms >= limits.maxRoomsPerUser) throw roomsFull(user.id === actor.id ? 'you are' : 'the user is');
        return (await insertMember(trx, room.id, user.id)) ? logHead(trx) : undefined;
      });
      if (added !== undefined) events.membershipChanged({ action: 'join', userId: user.id, roomId: room.id, logHead: added });
      return { added: added !== undefined };
    },

    /**
     * A member may remove themself; the room's creator may remove anyone, but
     * only while still a member: a creator who left has no more say.
     */
    async removeMember(actor: Actor, roomId: string, target: string): Promise<void> {
      requireScope(actor, 'rooms:write');
      const room = await findRoom(db, roomId);
      if (!room) throw notFound('room');
      if (target !== actor.id && !(await isMember(db, room.id, actor.id))) throw forbidden('you are not a member of this room');
      if (target !== actor.id && room.created_by !== actor.id) {
        throw forbidden('only the room creator can remove other members');
      }
      if (!(await deleteMember(db, room.id, target))) throw notFound('membership');
      events.membershipChanged({ action: 'leave', userId: target, roomId: room.id });
    },

    /**
     * Room membership is private: a user lists only their own rooms, a page at a
     * time in the order they joined. `after` / `before` name a room of the list;
     * `nextCursor` continues in the same direction (null at the end).
     */
    async userRooms(
      actor: Actor,
      target: string,
      page: { limit: number; after?: string | undefined; before?: string | undefined },
    ): Promise<PageResult<RoomView & { joined_at: Date }>> {
      requireScope(actor, 'messages:read');
      if (target !== actor.id) throw forbidden('you can only list your own rooms');
      if (page.after !== undefined && page.before !== undefined) {
        throw invalid('invalid query', [{ field: 'before', message: 'give either after or before, not both' }]);
      }
      // One row past the page says whether another page exists.
      const rows = await listUserRoomsPage(db, target, { ...page, limit: page.limit + 1 });
      if (!rows) {
        throw invalid('invalid query', [{ field: page.after !== undefined ? 'after' : 'before', message: 'not one of your rooms' }]);
      }
      const more = rows.length > page.limit;
      const pageRows = page.before !== undefined ? rows.slice(rows.length - Math.min(rows.length, page.limit)) : rows.slice(0, page.limit);
      const items = pageRows.map((r) => ({ ...toRoomView(r), joined_at: r.joined_at }));
      const nextCursor = more ? ((page.before !== undefined ? items[0]?.id : items.at(-1)?.id) ?? null) : null;
      return { items, nextCursor };
    },
  };
}

export type RoomService = ReturnType<typeof createRoomService>;
