/**
 * Runs one connection's requests in arrival order, so a client's messages
 * are stored and fanned out in the order it sent them. Refuses when more
 * than `limit` are waiting, which bounds what one flooding client can queue.
 */
export function createSerialQueue(limit: number) {
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;
  return {
    /** Returns false (and runs nothing) when the queue is full. */
    push(task: () => Promise<void>): boolean {
      if (pending >= limit) return false;
      pending++;
      tail = tail.then(task).finally(() => {
        pending--;
      });
      return true;
    },
  };
}
