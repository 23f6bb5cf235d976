import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import { INLINE_TYPES } from './types.ts';

/** How much of a file's start is kept to decide its type and read an image's size: enough for a JPEG's EXIF before its size. */
export const HEAD_BYTES = 256 * 1024;

export interface Sniffed {
  /** The type the content shows (magic bytes; valid UTF-8 without NUL is `text/plain`); undefined when it shows none. */
  contentType: string | undefined;
  width?: number;
  height?: number;
}

/**
 * What a file is, from its first bytes only: the client's word (its
 * Content-Type, its file name) is never asked. Images also say their size.
 */
export async function sniff(head: Uint8Array, complete: boolean): Promise<Sniffed> {
  const found = await fileTypeFromBuffer(head);
  const contentType = found?.mime ?? (isText(head, complete) ? 'text/plain' : undefined);
  if (contentType === undefined || !INLINE_TYPES.has(contentType)) return { contentType };
  try {
    const { width, height } = imageSize(head);
    return width > 0 && height > 0 ? { contentType, width, height } : { contentType };
  } catch {
    // The size lies beyond the head (or the image is damaged): it is still that type.
    return { contentType };
  }
}

/** Valid UTF-8 without NUL; a multi-byte character cut at the end of an incomplete head does not count against it. */
function isText(head: Uint8Array, complete: boolean): boolean {
  if (head.length === 0 || head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}
