/**
 * Runs one connection's requests in arrival order, so a client's messages
 * are stored and fanned out in the order it sent them. Refuses when more
 * than `limit` are waiting, which bounds what one flooding client can queue.
 *
 * A class, not a closure, and it lets go of its promise chain when idle: one
 * exists per connection, and most connections are idle most of the time.
 */
export class SerialQueue {
  readonly #limit: number;
  readonly #onError: (error: unknown) => void;
  #pending = 0;
  #tail: Promise<void> | undefined;

  /** `onError` hears of a task that failed; the next task runs all the same. Share one among queues. */
  constructor(limit: number, onError: (error: unknown) => void) {
    this.#limit = limit;
    this.#onError = onError;
  }

  /** Returns false (and runs nothing) when the queue is full. */
  push(task: () => Promise<void>): boolean {
    if (this.#pending >= this.#limit) return false;
    this.#pending++;
    const run: Promise<void> = (this.#tail ?? Promise.resolve())
      .then(task)
      .catch(this.#onError)
      .finally(() => {
        this.#pending--;
        if (this.#tail === run) this.#tail = undefined;
      });
    this.#tail = run;
    return true;
  }
}
