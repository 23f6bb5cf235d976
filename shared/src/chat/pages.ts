import type { Executor } from '../db/database.ts';
import { messageVisibleTo } from '../db/queries/messages.ts';
import { invalid } from '../errors.ts';
import type { Actor } from '../model/actor.ts';
import type { Page } from '../model/page.ts';

/**
 * A cursor must name a stored message the caller may see; anything else is a
 * client error, not an empty page. A message the caller may not see is
 * answered exactly like an id that does not exist, so cursors reveal nothing.
 */
export async function checkCursor(db: Executor, actor: Actor, page: Page): Promise<Page> {
  if (page.before !== undefined && !(await messageVisibleTo(db, actor.id, page.before))) {
    throw invalid('invalid query', [{ field: 'before', message: 'no message has this id' }]);
  }
  return page;
}
