import { Hono } from 'hono';
import type { RoomService } from '@chat/shared/chat/rooms';
import type { UserDirectory } from '@chat/shared/chat/users';
import type { AppEnv } from '../../env.ts';
import { validParams, validQuery } from '../../middleware/validate.ts';
import { userParams, usersQuery } from './schema.ts';

export function userRoutes(deps: { users: UserDirectory; rooms: RoomService }) {
  const { users, rooms } = deps;
  return new Hono<AppEnv>()
    .get('/', async (c) => c.json(await users.list(c.get('claims'), validQuery(c, usersQuery))))
    .get('/:userId', async (c) => c.json(await users.get(c.get('claims'), validParams(c, userParams).userId)))
    .get('/:userId/rooms', async (c) => {
      const list = await rooms.userRooms(c.get('claims'), validParams(c, userParams).userId);
      return c.json({ rooms: list, count: list.length });
    });
}
