import { DomainError } from '../errors.ts';

/** Told about the queue so a caller can report it (metrics) without this module knowing how. */
export interface LimiterObserver {
  /** Tasks waiting for a slot, after each change. */
  queueDepth?(waiting: number): void;
  /** A task was refused because the queue was full. */
  refused?(): void;
}

/**
 * Runs at most `concurrency` tasks at once and queues at most `maxQueue` more;
 * beyond that it refuses at once, so a flood cannot pile up memory or latency.
 */
export function createLimiter(concurrency: number, maxQueue: number, observer: LimiterObserver = {}) {
  let running = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    if (next) {
      observer.queueDepth?.(waiting.length);
      next();
    } else running--;
  };

  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (running < concurrency) {
      running++;
    } else {
      if (waiting.length >= maxQueue) {
        observer.refused?.();
        throw new DomainError('busy', 'server busy, try again shortly');
      }
      // The releasing task hands its slot over directly, so `running` stays put.
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        observer.queueDepth?.(waiting.length);
      });
    }
    try {
      return await task();
    } finally {
      release();
    }
  };
}
