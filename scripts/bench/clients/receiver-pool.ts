import { sleep } from '../stats.ts';
import { startWorker, type Worker } from '../worker.ts';
import type { ReceiverSpec, TagStats } from './receivers.ts';

export type { ReceiverSpec, TagStats };

/** The bench's handle on a receivers.ts child process. */
export interface ReceiverPool {
  readonly size: number;
  /** Waits until `expected` deliveries of `tag` arrived or `timeoutMs` passed, then returns (and forgets) its numbers. */
  settle(tag: string, expected: number, timeoutMs: number): Promise<TagStats>;
  drops(): Promise<number>;
  close(): Promise<void>;
}

export async function startReceivers(specs: ReceiverSpec[]): Promise<ReceiverPool> {
  const worker: Worker = await startWorker(new URL('./receivers.ts', import.meta.url).pathname);
  try {
    const r = await worker.call<{ live: number; failed: number; errors: string[] }>({ cmd: 'connect', receivers: specs, concurrency: 50 });
    if (r.failed > 0) throw new Error(`${r.failed} of ${specs.length} receivers did not connect: ${r.errors.join('; ')}`);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  // Socket.IO joins rooms right after `connect`; give the last ones a moment.
  await sleep(300);
  return {
    size: specs.length,
    async settle(tag, expected, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && (await worker.call<number>({ cmd: 'count', tag })) < expected) await sleep(100);
      return worker.call<TagStats>({ cmd: 'stats', tag });
    },
    drops: () => worker.call<number>({ cmd: 'drops' }),
    async close() {
      await worker.call({ cmd: 'close' }).catch(() => undefined);
      await worker.stop();
    },
  };
}
