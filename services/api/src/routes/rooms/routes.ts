import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { pageQuery, type ConversationService, type RoomService } from '@chat/shared/chat';
import {
  memberAddedSchema,
  memberRemovedSchema,
  messagePageSchema,
  presentMessagePage,
  roomDetailsSchema,
  roomPresenceSchema,
  roomSchema,
} from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { body, params, query } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';
import { memberParams, roomBody, roomParams } from './schema.ts';

const tags = ['rooms'];

export function roomRoutes(deps: { rooms: RoomService; conversations: Pick<ConversationService, 'roomPresence'> }) {
  const { rooms, conversations } = deps;
  return new Hono<AppEnv>()
    .post(
      '/',
      describeRoute({
        tags,
        summary: 'Create a room',
        description: 'The creator becomes its first member.',
        ...AUTHENTICATED,
        responses: { 201: json(roomSchema, 'The new room'), ...errors(400, 401, ...UNSAFE, 409, ...ALWAYS) },
      }),
      body(roomBody),
      async (c) => c.json(await rooms.create(c.get('claims'), c.req.valid('json')), 201),
    )
    .get(
      '/:roomId',
      describeRoute({
        tags,
        summary: 'A room and its members',
        description: 'Members only.',
        ...AUTHENTICATED,
        responses: { 200: json(roomDetailsSchema, 'The room'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(roomParams),
      async (c) => c.json(await rooms.get(c.get('claims'), c.req.valid('param').roomId)),
    )
    .get(
      '/:roomId/messages',
      describeRoute({
        tags,
        summary: "A room's messages",
        description: 'Members only, newest first.',
        ...AUTHENTICATED,
        responses: { 200: json(messagePageSchema, 'A page, newest first'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(roomParams),
      query(pageQuery),
      async (c) => {
        const page = await rooms.messages(c.get('claims'), c.req.valid('param').roomId, c.req.valid('query'));
        return c.json(presentMessagePage(page));
      },
    )
    .get(
      '/:roomId/presence',
      describeRoute({
        tags,
        summary: "Who of a room's members is online",
        description: "Members only. Later changes reach the members' connections as `presence`.",
        ...AUTHENTICATED,
        responses: { 200: json(roomPresenceSchema, 'The members online now'), ...errors(400, 401, 403, 404, ...ALWAYS) },
      }),
      params(roomParams),
      async (c) => c.json(await conversations.roomPresence(c.get('claims'), c.req.valid('param').roomId)),
    )
    .post(
      '/:roomId/members/:userId',
      describeRoute({
        tags,
        summary: 'Add a member',
        description: "Any member may add another user. The new member's sockets join the room on every gateway.",
        ...AUTHENTICATED,
        responses: {
          201: json(memberAddedSchema, 'Added'),
          200: json(memberAddedSchema, 'Already a member: nothing changed (`added` is false)'),
          ...errors(400, 401, ...UNSAFE, 404, 409, ...ALWAYS),
        },
      }),
      params(memberParams),
      async (c) => {
        const { roomId, userId } = c.req.valid('param');
        const { added } = await rooms.addMember(c.get('claims'), roomId, userId);
        return c.json({ room_id: roomId, user_id: userId, added }, added ? 201 : 200);
      },
    )
    .delete(
      '/:roomId/members/:userId',
      describeRoute({
        tags,
        summary: 'Remove a member',
        description: 'Members may leave; only the creator may remove someone else.',
        ...AUTHENTICATED,
        responses: { 200: json(memberRemovedSchema, 'Removed'), ...errors(400, 401, ...UNSAFE, 404, ...ALWAYS) },
      }),
      params(memberParams),
      async (c) => {
        const { roomId, userId } = c.req.valid('param');
        await rooms.removeMember(c.get('claims'), roomId, userId);
        return c.json({ room_id: roomId, user_id: userId, removed: true as const });
      },
    );
}
