import { sql } from 'kysely';
import type { Executor } from '../database.ts';
import type { RoomRow } from '../schema.ts';
import { isUuid } from './uuid.ts';

export async function insertRoom(db: Executor, room: { name: string; description: string; createdBy: string }): Promise<RoomRow> {
  return db
    .insertInto('rooms')
    .values({ name: room.name, description: room.description, created_by: room.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findRoom(db: Executor, id: string): Promise<RoomRow | undefined> {
  return db.selectFrom('rooms').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The room and whether `userId` is in it, in one round trip; undefined when no room has this id. */
export async function findRoomAsMember(db: Executor, id: string, userId: string): Promise<{ room: RoomRow; member: boolean } | undefined> {
  const row = await db
    .selectFrom('rooms as r')
    .selectAll('r')
    .select((eb) =>
      eb.exists(eb.selectFrom('room_members').select('user_id').where('room_id', '=', eb.ref('r.id')).where('user_id', '=', userId)).as('member'),
    )
    .where('r.id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  const { member, ...room } = row;
  return { room, member: Boolean(member) };
}

/** Returns false when the user already was a member. */
export async function insertMember(db: Executor, roomId: string, userId: string): Promise<boolean> {
  const result = await db
    .insertInto('room_members')
    .values({ room_id: roomId, user_id: userId })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Returns false when the user was not a member. */
export async function deleteMember(db: Executor, roomId: string, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * With `lock`, the membership row stays share-locked until the caller's
 * transaction ends, so a concurrent removal waits for it instead of slipping in
 * between this check and what the caller does next.
 */
export async function isMember(db: Executor, roomId: string, userId: string): Promise<boolean> {
  const row = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

export async function listMembers(db: Executor, roomId: string) {
  return db
    .selectFrom('room_members as rm')
    .innerJoin('users as u', 'u.id', 'rm.user_id')
    .select(['u.id', 'u.username', 'rm.joined_at'])
    .where('rm.room_id', '=', roomId)
    .orderBy('rm.joined_at')
    .orderBy('u.id')
    .execute();
}

/**
 * The rooms of several users in one round trip (room_members_user_idx), as
 * user id -> room ids; a user in no room is absent. One array parameter, so the
 * statement text is the same for any number of users (one prepared statement).
 */
export async function listRoomIdsOfUsers(db: Executor, userIds: readonly string[]): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>();
  const valid = userIds.filter(isUuid);
  if (valid.length === 0) return byUser;
  const rows = await db
    .selectFrom('room_members')
    .select(['user_id', 'room_id'])
    .where(sql<boolean>`user_id = any(${valid}::uuid[])`)
    .execute();
  for (const { user_id, room_id } of rows) {
    const list = byUser.get(user_id);
    if (list) list.push(room_id);
    else byUser.set(user_id, [room_id]);
  }
  return byUser;
}

/**
 * One page of a user's rooms in the order they joined them (then by room id).
 * `after` / `before` name a room of the user's list; the page holds the rooms
 * after (or right before) it, always in ascending order. Returns undefined
 * when the cursor names no room of this user's.
 */
export async function listUserRoomsPage(
  db: Executor,
  userId: string,
  page: { limit: number; after?: string | undefined; before?: string | undefined },
) {
  const cursor = page.after ?? page.before;
  if (cursor !== undefined) {
    const known = await db
      .selectFrom('room_members')
      .select('room_id')
      .where('user_id', '=', userId)
      .where('room_id', '=', cursor)
      .executeTakeFirst();
    if (!known) return undefined;
  }
  const position = (id: string) => sql`(select joined_at, room_id from room_members where user_id = ${userId} and room_id = ${id})`;
  let query = db
    .selectFrom('room_members as rm')
    .innerJoin('rooms as r', 'r.id', 'rm.room_id')
    .selectAll('r')
    .select('rm.joined_at')
    .where('rm.user_id', '=', userId)
    .limit(page.limit);
  if (page.before !== undefined) {
    query = query
      .where(sql<boolean>`(rm.joined_at, rm.room_id) < ${position(page.before)}`)
      .orderBy('rm.joined_at', 'desc')
      .orderBy('r.id', 'desc');
    return (await query.execute()).reverse();
  }
  if (page.after !== undefined) query = query.where(sql<boolean>`(rm.joined_at, rm.room_id) > ${position(page.after)}`);
  return query.orderBy('rm.joined_at').orderBy('r.id').execute();
}

/** Takes the user's row lock (until the transaction ends) and counts their rooms: serialises joins against the cap. */
export async function lockUserAndCountRooms(db: Executor, userId: string): Promise<number | undefined> {
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirst();
  if (!user) return undefined;
  const row = await db
    .selectFrom('room_members')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Takes the room's row lock (until the transaction ends) and counts its members. */
export async function lockRoomAndCountMembers(db: Executor, roomId: string): Promise<number | undefined> {
  const room = await db.selectFrom('rooms').select('id').where('id', '=', roomId).forUpdate().executeTakeFirst();
  if (!room) return undefined;
  const row = await db
    .selectFrom('room_members')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('room_id', '=', roomId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
