import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What deploy/redis/start.sh makes of one of the ACL files beside this one
 * (users.acl, cluster-users.acl): comments and blank lines dropped,
 * `>password` appended to every enabled user; here with the key and channel
 * patterns moved from compose's prefix, `chat:`, to `prefix`.
 */
export async function aclFileFor(file: 'users.acl' | 'cluster-users.acl', password: string, prefix: string): Promise<string> {
  const lines = (await readFile(path.join(import.meta.dirname, file), 'utf8')).split('\n');
  return lines
    .filter((l) => !/^\s*(#|$)/.test(l))
    .map((l) => l.replace(/(?<=\s[~&])chat:/g, prefix))
    .map((l) => (l.includes(' on ') ? `${l} >${password}` : l))
    .join('\n');
}
