import type { Logger } from '@chat/shared/logger';

export interface Loop {
  start(): void;
  /** Runs the step now (a test's nudge, or work known to be waiting) unless it is running already. */
  kick(): void;
  /** Lets the step under way finish; no step starts after. */
  stop(): Promise<void>;
}

/**
 * Runs `step` every `intervalMs` (measured from the end of the last run, so
 * a slow step never overlaps itself). A failing step is logged and tried
 * again next time: PostgreSQL or Redis away only delays the work.
 */
export function createLoop(name: string, intervalMs: number, step: () => Promise<void>, logger: Logger): Loop {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;
  let failing = false;

  const run = () => {
    if (stopped || current) return;
    clearTimeout(timer);
    current = step()
      .then(
        () => {
          if (failing) logger.info({ loop: name }, 'worker loop recovered');
          failing = false;
        },
        (error: unknown) => {
          // Once per outage, not once per interval.
          if (!failing) logger.warn({ err: error, loop: name }, 'worker loop step failed; retrying');
          failing = true;
        },
      )
      .finally(() => {
        current = undefined;
        if (!stopped) timer = setTimeout(run, intervalMs);
      });
  };

  return {
    start: run,
    kick: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
