import { createHash } from 'node:crypto';

/**
 * Names under which PostgreSQL keeps a statement prepared on each pooled
 * connection, so the server parses and plans a statement text once per
 * connection instead of once per call. The history reads spend as long being
 * planned as being executed (EXPLAIN: 0.7 ms of planning for the visible
 * page, 0.18 ms for a conversation page executed in 0.04 ms), and the send
 * path's insert is planned per message.
 *
 * Only statements with parameters are named: they already go through the
 * extended protocol, so nothing else about them changes (a text without
 * parameters may hold several statements, which a prepared statement cannot).
 * The name is a hash of the text, so one text always has one name, and at
 * most `limit` texts are ever named: every connection may end up holding all
 * of them, and a query builder that made a new text per call (an IN list of
 * varying length) must not grow the server's memory without end; texts past
 * the limit run unnamed, as before.
 */
export function createStatementNames(limit: number): (text: string, parameterCount: number) => string | undefined {
  const names = new Map<string, string>();
  return (text, parameterCount) => {
    if (parameterCount === 0) return undefined;
    const known = names.get(text);
    if (known !== undefined || names.size >= limit) return known;
    const name = `chat_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;
    names.set(text, name);
    return name;
  };
}
