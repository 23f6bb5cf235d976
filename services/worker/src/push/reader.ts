import { randomUUID } from 'node:crypto';
import type { PushQueue } from '@chat/shared/integrations';

/** Messages read from the log per step. */
const BATCH = 500;

export interface PushReader {
  /** Reads what the log gained since the last step, if this worker holds (or gets) the reader's lease. */
  step(): Promise<void>;
  /** Gives the lease back, so another worker reads on at once. */
  stop(): Promise<void>;
}

/**
 * One reader of the whole log for push, whichever worker holds its lease:
 * the log is read once, in order, and each message is counted into its
 * notices once (the notices and the reader's position commit together). One
 * sequential reader is cheap, as it reads each message once; the sending,
 * which is the slow part, is shared by every worker (sender.ts).
 */
export function createPushReader(deps: { queue: PushQueue; leaseMs: number; coalesceMs: number }): PushReader {
  const { queue } = deps;
  const token = randomUUID();
  return {
    async step() {
      let position = await queue.lease(token, deps.leaseMs);
      if (position === undefined) return;
      const head = await queue.head();
      while (position < head) {
        const { notices, read } = await queue.notices(position, head, BATCH);
        if (!(await queue.commit(token, read, notices, deps.coalesceMs))) return;
        position = read;
      }
    },
    stop: () => queue.release(token),
  };
}
