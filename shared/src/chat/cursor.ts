import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../errors.ts';

/**
 * Resume cursors name a position in the commit-ordered message log.
 *
 * - `m` cursors ride on message frames. They are the same for every recipient,
 *   so a broadcast is encoded once; the MAC covers only the position, and the
 *   resume rule checks that the caller may see the message it names.
 * - `u` cursors mark where one connection stands without naming a message
 *   (connection, resumed and reload frames). They go to one user, so their MAC
 *   covers the user too and another user's is refused.
 *
 * Both are opaque to clients; the MAC makes a forged or edited one fail.
 */
export interface CursorPosition {
  kind: 'message' | 'user';
  seq: number;
}

export interface CursorCodec {
  forMessage(seq: number): string;
  forUser(userId: string, seq: number): string;
  /** Throws `invalid_cursor` for anything this cluster did not issue to `callerId` (or as a message position). */
  decode(cursor: string, callerId: string): CursorPosition;
}

const SHAPE = /^([mu])1\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{16})$/;
const invalidCursor = () => new DomainError('invalid_cursor', 'invalid resume cursor; reconnect without one and reload history');

export function createCursorCodec(secret: string): CursorCodec {
  // A key of its own, so a cursor MAC can never double as a token signature.
  const key = createHmac('sha256', secret).update('chat resume cursor v1').digest();
  const mac = (text: string) => createHmac('sha256', key).update(text).digest().subarray(0, 12).toString('base64url');
  const issue = (kind: 'm' | 'u', seq: number, userId = '') => {
    const position = seq.toString(36);
    return `${kind}1.${position}.${mac(`${kind}:${position}:${userId}`)}`;
  };

  return {
    forMessage: (seq) => issue('m', seq),
    forUser: (userId, seq) => issue('u', seq, userId),
    decode(cursor, callerId) {
      const match = SHAPE.exec(cursor);
      if (!match) throw invalidCursor();
      const [, kind, position, given] = match as unknown as [string, 'm' | 'u', string, string];
      const seq = Number.parseInt(position, 36);
      const expected = mac(`${kind}:${position}:${kind === 'u' ? callerId : ''}`);
      if (!Number.isSafeInteger(seq) || !safeEqual(given, expected)) throw invalidCursor();
      return { kind: kind === 'm' ? 'message' : 'user', seq };
    },
  };

  function safeEqual(a: string, b: string) {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }
}
