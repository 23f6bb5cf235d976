import type { Kysely } from 'kysely';
import { hasStalePending, numberPending as numberPendingRows } from '../db/queries/messages.ts';
import type { DB } from '../db/schema.ts';
import type { EventPublisher } from '../events/publisher.ts';
import type { LoggedMessage } from '../model/message.ts';

/** Numbers per batch; a larger backlog takes several batches. */
const BATCH = 1_000;

export interface LogNumbering {
  /**
   * How many pending messages a send may number in its own commit when the
   * log lock is free (storeMessage); 0 leaves every send to `numberPending`.
   */
  readonly inCommit: number;
  /** Announces, once and in log order, messages a send's own commit numbered. */
  announce(numbered: readonly LoggedMessage[]): void;
  /**
   * Numbers every stored message still without a seq and announces each,
   * once, in log order. Resolves after a batch that started after the call,
   * so the caller's own committed message is numbered by then.
   */
  numberPending(): Promise<void>;
  /** The same, but only if a message has waited longer than `ageMs`: its sender died before numbering it. */
  numberStale(ageMs: number): Promise<void>;
}

/**
 * One numbering batch in flight per process: callers that arrive meanwhile
 * share the next one. Every batch holds the log lock through its commit, so
 * letting each send queue for the lock would put one WAL flush per message in
 * a line; sharing batches makes it one flush per batch.
 */
export function createLogNumbering(deps: { db: Kysely<DB>; events: EventPublisher }): LogNumbering {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;

  async function batch(): Promise<void> {
    let numbered;
    do {
      numbered = await numberPendingRows(deps.db, BATCH);
      // Only the batch that numbered a message announces it: each goes out once.
      for (const logged of numbered) deps.events.messageCreated(logged);
    } while (numbered.length === BATCH);
  }

  function start(): Promise<void> {
    running = batch().finally(() => {
      running = undefined;
    });
    return running;
  }

  function numberPending(): Promise<void> {
    if (!running) return start();
    // The running batch may have read the pending rows before ours committed: wait for the next.
    queued ??= running
      .catch(() => {})
      .then(() => {
        queued = undefined;
        return running ?? start();
      });
    return queued;
  }

  return {
    inCommit: BATCH,
    announce(numbered) {
      for (const logged of numbered) deps.events.messageCreated(logged);
    },
    numberPending,
    async numberStale(ageMs) {
      if (await hasStalePending(deps.db, ageMs)) await numberPending();
    },
  };
}
