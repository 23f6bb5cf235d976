import type { Executor } from '../db/database.ts';
import { messageExists } from '../db/queries/messages.ts';
import { invalid } from '../errors.ts';
import type { Page } from '../model/page.ts';

/** A cursor must name a stored message; anything else is a client error, not an empty page. */
export async function checkCursor(db: Executor, page: Page): Promise<Page> {
  if (page.before !== undefined && !(await messageExists(db, page.before))) {
    throw invalid('invalid query', [{ field: 'before', message: 'no message has this id' }]);
  }
  return page;
}
