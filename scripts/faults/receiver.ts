import type { User } from './rest.ts';

/** A client that only listens, and resumes with its last cursor whenever its connection drops. */
export interface Receiver {
  name: string;
  kind: 'ws' | 'io';
  user: User;
  /** Connected, with replay (if any) finished: on the live stream. */
  isLive(): boolean;
  /** How many times its connection has dropped so far. */
  drops(): number;
  close(): void;
}

/** Reconnect delay: quick at first, doubling up to 2 s while attempts keep failing, with jitter. */
export const backoff = (failures: number) => Math.min(100 * 2 ** failures, 2_000) * (0.5 + Math.random() / 2);
