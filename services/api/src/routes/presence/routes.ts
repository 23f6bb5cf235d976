import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import type { UserDirectory } from '@chat/shared/chat';
import { connectedUsersSchema, presentConnectedUsers } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { ALWAYS, AUTHENTICATED, errors, json } from '../../openapi/responses.ts';

/** `GET /api/ws/users`: who is connected anywhere in the cluster. */
export function presenceRoutes(deps: { users: UserDirectory }) {
  return new Hono<AppEnv>().get(
    '/users',
    describeRoute({
      tags: ['presence'],
      summary: 'Who is connected',
      description: 'Usernames with at least one open socket (either kind) on any gateway.',
      ...AUTHENTICATED,
      responses: { 200: json(connectedUsersSchema, 'Connected users'), ...errors(401, ...ALWAYS) },
    }),
    async (c) => c.json(presentConnectedUsers(await deps.users.connected())),
  );
}
