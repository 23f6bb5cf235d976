import { Hono } from 'hono';
import type { UserDirectory } from '@chat/shared/chat';
import { presentConnectedUsers } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';

/** `GET /api/ws/users`: who is connected anywhere in the cluster. */
export function presenceRoutes(deps: { users: UserDirectory }) {
  return new Hono<AppEnv>().get('/users', async (c) => c.json(presentConnectedUsers(await deps.users.connected())));
}
