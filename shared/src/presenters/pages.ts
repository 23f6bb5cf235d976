import type { ChatMessage } from '../model/message.ts';
import type { PageResult } from '../model/page.ts';

/** `{messages, next_cursor}`: every message listing, over every route. */
export const presentMessagePage = (page: PageResult<ChatMessage>) => ({ messages: page.items, next_cursor: page.nextCursor });

/** `{users, count, next_cursor}`. */
export const presentUserPage = <U>(page: PageResult<U>) => ({ users: page.items, count: page.items.length, next_cursor: page.nextCursor });

/** `{rooms, count, next_cursor}`: a user's rooms, a page at a time. */
export const presentRoomPage = <R>(page: PageResult<R>) => ({ rooms: page.items, count: page.items.length, next_cursor: page.nextCursor });
