import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import type { RoomService, UserDirectory } from '@chat/shared/chat';
import { presentRoomPage, presentUserPage, roomPageSchema, userPageSchema, userSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params, query } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json } from '../../openapi/responses.ts';
import { userParams, userRoomsQuery, usersQuery } from './schema.ts';

const tags = ['users'];

export function userRoutes(deps: { users: UserDirectory; rooms: RoomService }) {
  const { users, rooms } = deps;
  return new Hono<AppEnv>()
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Every user, by username',
        ...AUTHENTICATED,
        responses: { 200: json(userPageSchema, 'A page in username order'), ...errors(400, 401, 403, ...ALWAYS) },
      }),
      query(usersQuery),
      async (c) => c.json(presentUserPage(await users.list(c.get('claims'), c.req.valid('query')))),
    )
    .get(
      '/:userId',
      describeRoute({
        tags,
        summary: 'One user',
        ...AUTHENTICATED,
        responses: { 200: json(userSchema, "The user; `email` only in the caller's own record"), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(userParams),
      async (c) => c.json(await users.get(c.get('claims'), c.req.valid('param').userId)),
    )
    .get(
      '/:userId/rooms',
      describeRoute({
        tags,
        summary: "A user's rooms",
        description: 'Only the caller may list their own rooms, in the order they joined; `after` and `before` are room ids of a previous page.',
        ...AUTHENTICATED,
        responses: { 200: json(roomPageSchema, 'A page of rooms'), ...errors(400, 401, 403, ...ALWAYS) },
      }),
      params(userParams),
      query(userRoomsQuery),
      async (c) => {
        const page = await rooms.userRooms(c.get('claims'), c.req.valid('param').userId, c.req.valid('query'));
        return c.json(presentRoomPage(page));
      },
    );
}
