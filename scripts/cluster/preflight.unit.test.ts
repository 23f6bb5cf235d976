import { describe, expect, it } from 'vitest';
import { parseOpenFileLimit } from './preflight.ts';

describe('parseOpenFileLimit', () => {
  const limits = (line: string) =>
    `Limit                     Soft Limit           Hard Limit           Units\nMax processes             95488                95488                processes\n${line}\nMax locked memory         8388608              8388608              bytes\n`;

  it('reads the soft and hard open-file limits', () => {
    expect(parseOpenFileLimit(limits('Max open files            1024                 20000                files'))).toEqual({
      soft: 1024,
      hard: 20000,
    });
  });

  it('reads unlimited as infinity', () => {
    expect(parseOpenFileLimit(limits('Max open files            unlimited            unlimited            files'))).toEqual({
      soft: Number.POSITIVE_INFINITY,
      hard: Number.POSITIVE_INFINITY,
    });
  });

  it('answers undefined for a text without the line', () => {
    expect(parseOpenFileLimit('')).toBeUndefined();
  });
});
