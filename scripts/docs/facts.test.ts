import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@chat/shared/errors';
import { HTTP_STATUS } from '@chat/shared/presenters';

// Facts the docs state that the code can check: the error vocabulary and its HTTP statuses.

const read = (file: string) => readFileSync(path.resolve(import.meta.dirname, '../..', file), 'utf8');

describe('the docs name every error code, and only those', () => {
  it('docs/protocol.md has one row per ErrorCode, with its HTTP status', () => {
    const rows = [...read('docs/protocol.md').matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])] as const);
    expect(rows.map(([code]) => code).sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.fromEntries(rows)).toEqual(HTTP_STATUS);
  });

  it('docs/architecture.md lists them in the order of ERROR_CODES', () => {
    const errors = /### Errors\n\n([\s\S]*?)\n\n/.exec(read('docs/architecture.md'))?.[1] ?? '';
    const named = [...errors.matchAll(/`([a-z]+_[a-z_]+|[a-z]+)`/g)]
      .map((m) => m[1])
      .filter((c) => (ERROR_CODES as readonly string[]).includes(c ?? ''));
    expect([...new Set(named)]).toEqual([...ERROR_CODES]);
  });
});
