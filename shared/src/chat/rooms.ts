import type { Kysely } from 'kysely';
import type { DB, RoomRow } from '../db/schema.ts';
import { listRoomMessages } from '../db/queries/messages.ts';
import { deleteMember, findRoom, insertMember, insertRoom, isMember, listMembers, listUserRooms } from '../db/queries/rooms.ts';
import { findUserById } from '../db/queries/users.ts';
import { forbidden, notFound } from '../errors.ts';
import type { EventPublisher } from '../events/publisher.ts';
import { checkCursor } from './pages.ts';
import type { Actor, ChatMessage, Page, PageResult } from '../model/index.ts';

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

export function createRoomService(deps: { db: Kysely<DB>; events: EventPublisher }) {
  const { db, events } = deps;

  /** Loads the room and checks that the actor belongs to it. */
  async function roomForMember(actor: Actor, roomId: string) {
    const room = await findRoom(db, roomId);
    if (!room) throw notFound('room');
    if (!(await isMember(db, room.id, actor.id))) throw forbidden('you are not a member of this room');
    return room;
  }

  return {
    async create(actor: Actor, fields: { name: string; description: string }): Promise<RoomDetails> {
      const room = await db.transaction().execute(async (trx) => {
        const created = await insertRoom(trx, { ...fields, createdBy: actor.id });
        await insertMember(trx, created.id, actor.id);
        return created;
      });
      events.membershipChanged({ action: 'join', userId: actor.id, roomId: room.id });
      return { ...toRoomView(room), members: await listMembers(db, room.id) };
    },

    async get(actor: Actor, roomId: string): Promise<RoomDetails> {
      const room = await roomForMember(actor, roomId);
      return { ...toRoomView(room), members: await listMembers(db, room.id) };
    },

    async messages(actor: Actor, roomId: string, page: Page): Promise<PageResult<ChatMessage>> {
      const room = await roomForMember(actor, roomId);
      return listRoomMessages(db, room.id, await checkCursor(db, page));
    },

    /** Only members may add; returns whether the user was newly added. */
    async addMember(actor: Actor, roomId: string, userId: string): Promise<{ added: boolean }> {
      const room = await roomForMember(actor, roomId);
      const user = await findUserById(db, userId);
      if (!user) throw notFound('user');
      const added = await insertMember(db, room.id, user.id);
      if (added) events.membershipChanged({ action: 'join', userId: user.id, roomId: room.id });
      return { added };
    },

    /** A member may remove themself; the room's creator may remove anyone. */
    async removeMember(actor: Actor, roomId: string, target: string): Promise<void> {
      const room = await findRoom(db, roomId);
      if (!room) throw notFound('room');
      if (target !== actor.id && room.created_by !== actor.id) {
        throw forbidden('only the room creator can remove other members');
      }
      if (!(await deleteMember(db, room.id, target))) throw notFound('membership');
      events.membershipChanged({ action: 'leave', userId: target, roomId: room.id });
    },

    /** Room membership is private: a user lists only their own rooms. */
    async userRooms(actor: Actor, target: string) {
      if (target !== actor.id) throw forbidden('you can only list your own rooms');
      const rows = await listUserRooms(db, target);
      return rows.map((r) => ({ ...toRoomView(r), joined_at: r.joined_at }));
    },
  };
}

export type RoomService = ReturnType<typeof createRoomService>;
