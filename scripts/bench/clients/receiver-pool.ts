import { sleep } from '../stats.ts';
import { startWorker, type Worker } from '../worker.ts';
import type { ReceiverSpec, TagStats } from './receivers.ts';

export type { ReceiverSpec, TagStats };

/** How the receivers' connects went. */
export interface ConnectResult {
  live: number;
  failed: number;
  /** The first few errors. */
  errors: string[];
}

/** How one `churn` went: reopened (of them, with a resume cursor) and failed. */
export interface ChurnResult {
  reopened: number;
  resumed: number;
  failed: number;
  errors: string[];
}

/** The bench's handle on a receivers.ts child process. */
export interface ReceiverPool {
  readonly size: number;
  readonly connected: ConnectResult;
  /**
   * Waits until `expected` deliveries of `tag` arrived or `timeoutMs` passed, then
   * returns (and forgets) its numbers; with `samples`, every latency too.
   */
  settle(tag: string, expected: number, timeoutMs: number, opts?: { samples?: boolean }): Promise<TagStats>;
  drops(): Promise<number>;
  /** Closes `count` receivers picked at random and opens them again, resuming from their last cursors. */
  churn(count: number): Promise<ChurnResult>;
  close(): Promise<void>;
}

/** Connects every receiver; throws if one did not connect, unless `tolerateFailures` (then see `connected`). */
export async function startReceivers(specs: ReceiverSpec[], opts: { tolerateFailures?: boolean } = {}): Promise<ReceiverPool> {
  const worker: Worker = await startWorker(new URL('./receivers.ts', import.meta.url).pathname);
  let connected: ConnectResult;
  try {
    connected = await worker.call<ConnectResult>({ cmd: 'connect', receivers: specs, concurrency: 50 });
    if (connected.failed > 0 && !opts.tolerateFailures)
      throw new Error(`${connected.failed} of ${specs.length} receivers did not connect: ${connected.errors.join('; ')}`);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  // Socket.IO joins rooms right after `connect`; give the last ones a moment.
  await sleep(300);
  return {
    size: specs.length,
    connected,
    async settle(tag, expected, timeoutMs, settleOpts = {}) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && (await worker.call<number>({ cmd: 'count', tag })) < expected) await sleep(100);
      return worker.call<TagStats>({ cmd: 'stats', tag, samples: settleOpts.samples === true });
    },
    drops: () => worker.call<number>({ cmd: 'drops' }),
    churn: (count) => worker.call<ChurnResult>({ cmd: 'churn', count, concurrency: 20 }),
    async close() {
      await worker.call({ cmd: 'close' }).catch(() => undefined);
      await worker.stop();
    },
  };
}
