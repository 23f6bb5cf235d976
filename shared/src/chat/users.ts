import type { Kysely } from 'kysely';
import { findUserById, findUsernames, listUsers } from '../db/queries/users.ts';
import type { DB, UserRow } from '../db/schema.ts';
import { notFound } from '../errors.ts';
import type { PresenceReader } from '../presence/reader.ts';
import type { Actor } from '../model/actor.ts';
import type { PageResult } from '../model/page.ts';
import { requireScope } from '../auth/scopes.ts';

export interface UserView {
  id: string;
  username: string;
  /** Only in the caller's own record: other people's addresses are not public. */
  email?: string;
  is_online: boolean;
  created_at: Date;
}

export function toUserView(user: UserRow, opts: { self: boolean; online: boolean }): UserView {
  return {
    id: user.id,
    username: user.username,
    ...(opts.self ? { email: user.email } : {}),
    is_online: opts.online,
    created_at: user.created_at,
  };
}

export function createUserDirectory(deps: { db: Kysely<DB>; presence: PresenceReader }) {
  const { db, presence } = deps;

  async function view(actor: Actor, user: UserRow): Promise<UserView> {
    const online = await presence.onlineAmong([user.id]);
    return toUserView(user, { self: user.id === actor.id, online: online.has(user.id) });
  }

  return {
    view,

    /** Ordered by username; `after` is the last username of the previous page. */
    async list(actor: Actor, page: { limit: number; after?: string | undefined }): Promise<PageResult<UserView>> {
      requireScope(actor, 'messages:read');
      // One row past the page says whether another page exists.
      const rows = await listUsers(db, { ...page, limit: page.limit + 1 });
      const pageRows = rows.slice(0, page.limit);
      const online = await presence.onlineAmong(pageRows.map((u) => u.id));
      const users = pageRows.map((u) => toUserView(u, { self: u.id === actor.id, online: online.has(u.id) }));
      return { items: users, nextCursor: rows.length > page.limit ? (users.at(-1)?.username ?? null) : null };
    },

    async get(actor: Actor, userId: string): Promise<UserView> {
      requireScope(actor, 'messages:read');
      const user = await findUserById(db, userId);
      if (!user) throw notFound('user');
      return view(actor, user);
    },

    /** Usernames of everyone connected to any gateway of the cluster. */
    async connected(): Promise<string[]> {
      return findUsernames(db, [...(await presence.onlineUserIds())]);
    },
  };
}

export type UserDirectory = ReturnType<typeof createUserDirectory>;
