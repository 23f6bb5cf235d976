import { z } from 'zod';
import { id } from '@chat/shared/chat';

export const uploadParams = z.object({ id: id('upload id') });

/**
 * `Range: bytes=a-b`, `bytes=a-`, `bytes=-n`: one range. Anything else, several
 * ranges or one outside the file, is read as no range at all: the whole file
 * (RFC 9110 lets a server ignore Range).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return undefined;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return undefined;
  return { start, end };
}
