import { describe, expect, it } from 'vitest';
import { createStatementNames } from './statement-names.ts';

describe('statement names', () => {
  it('gives one text one name, and different texts different names', () => {
    const nameOf = createStatementNames(10);
    const a = nameOf('select $1', 1);
    expect(a).toMatch(/^chat_[\w-]{24}$/);
    expect(nameOf('select $1', 1)).toBe(a);
    expect(nameOf('select $1 + 1', 1)).not.toBe(a);
    // Another pool names it the same way: the name is the text's hash.
    expect(createStatementNames(10)('select $1', 1)).toBe(a);
  });

  it('names no text without parameters', () => {
    expect(createStatementNames(10)('select 1; select 2', 0)).toBeUndefined();
  });

  it('names at most `limit` texts; the ones named before keep their names', () => {
    const nameOf = createStatementNames(2);
    const [a, b] = [nameOf('a $1', 1), nameOf('b $1', 1)];
    expect(nameOf('c $1', 1)).toBeUndefined();
    expect([nameOf('a $1', 1), nameOf('b $1', 1)]).toEqual([a, b]);
  });
});
