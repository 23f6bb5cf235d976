import { Hono } from 'hono';
import type { RoomService, UserDirectory } from '@chat/shared/chat';
import { presentRoomPage, presentUserPage } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { validParams, validQuery } from '../../middleware/validate.ts';
import { userParams, userRoomsQuery, usersQuery } from './schema.ts';

export function userRoutes(deps: { users: UserDirectory; rooms: RoomService }) {
  const { users, rooms } = deps;
  return new Hono<AppEnv>()
    .get('/', async (c) => c.json(presentUserPage(await users.list(c.get('claims'), validQuery(c, usersQuery)))))
    .get('/:userId', async (c) => c.json(await users.get(c.get('claims'), validParams(c, userParams).userId)))
    .get('/:userId/rooms', async (c) => {
      const { userId } = validParams(c, userParams);
      return c.json(presentRoomPage(await rooms.userRooms(c.get('claims'), userId, validQuery(c, userRoomsQuery))));
    });
}
