import { DomainError } from '../errors.ts';

/**
 * Runs at most `concurrency` tasks at once and queues at most `maxQueue` more;
 * beyond that it refuses at once, so a flood cannot pile up memory or latency.
 */
export function createLimiter(concurrency: number, maxQueue: number) {
  let running = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running < concurrency) {
      running++;
    } else {
      if (waiting.length >= maxQueue) throw new DomainError('busy', 'server busy, try again shortly');
      // The releasing task hands its slot over directly, so `running` stays put.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      release();
    }
  };
}
