import type { RawData } from 'ws';

/** A text frame's content (`ws` hands text frames over as a Buffer by default). */
export const frameText = (data: RawData): string =>
  Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
