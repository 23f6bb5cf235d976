import { Hono } from 'hono';
import { pageQuery, type RoomService } from '@chat/shared/chat';
import { presentMessagePage } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { validBody, validParams, validQuery } from '../../middleware/validate.ts';
import { memberParams, roomBody, roomParams } from './schema.ts';

export function roomRoutes(deps: { rooms: RoomService }) {
  const { rooms } = deps;
  return new Hono<AppEnv>()
    .post('/', async (c) => c.json(await rooms.create(c.get('claims'), await validBody(c, roomBody)), 201))
    .get('/:roomId', async (c) => c.json(await rooms.get(c.get('claims'), validParams(c, roomParams).roomId)))
    .get('/:roomId/messages', async (c) => {
      const { roomId } = validParams(c, roomParams);
      const page = await rooms.messages(c.get('claims'), roomId, validQuery(c, pageQuery));
      return c.json(presentMessagePage(page));
    })
    .post('/:roomId/members/:userId', async (c) => {
      const { roomId, userId } = validParams(c, memberParams);
      const { added } = await rooms.addMember(c.get('claims'), roomId, userId);
      return c.json({ room_id: roomId, user_id: userId, added }, added ? 201 : 200);
    })
    .delete('/:roomId/members/:userId', async (c) => {
      const { roomId, userId } = validParams(c, memberParams);
      await rooms.removeMember(c.get('claims'), roomId, userId);
      return c.json({ room_id: roomId, user_id: userId, removed: true });
    });
}
