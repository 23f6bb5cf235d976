import type { Executor } from '../db/database.ts';
import { messageVisibleTo } from '../db/queries/messages.ts';
import { invalid } from '../errors.ts';
import type { Actor } from '../model/actor.ts';
import type { Page, PageResult } from '../model/page.ts';

/**
 * A cursor must name a stored message the caller may see; anything else is a
 * client error, not an empty page. A message the caller may not see is
 * answered exactly like an id that does not exist, so cursors reveal nothing.
 *
 * The history statements look the cursor up visible to the caller only, so a
 * bad cursor yields an empty page: only an empty page after a cursor costs the
 * extra round trip that tells "nothing older" from "no such message".
 */
export async function pageOrWhy<T>(db: Executor, actor: Actor, page: Page, result: PageResult<T>): Promise<PageResult<T>> {
  if (page.before !== undefined && result.items.length === 0 && !(await messageVisibleTo(db, actor.id, page.before))) {
    throw invalid('invalid query', [{ field: 'before', message: 'no message has this id' }]);
  }
  return result;
}
