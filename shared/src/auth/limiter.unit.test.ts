import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { createLimiter } from './limiter.ts';

/** A task the test starts and finishes by hand, so no timing is involved. */
function gate<T = void>() {
  let open!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** Lets queued continuations run: a released slot is handed over through a few promise hops. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('createLimiter', () => {
  it('never runs more than `concurrency` tasks at once, starts queued ones in order, and refuses past the queue', async () => {
    const run = createLimiter(2, 3);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, () => gate());
    const tasks = gates.map((g, i) =>
      run(async () => {
        active++;
        peak = Math.max(peak, active);
        started.push(i);
        try {
          await g.promise;
          return i;
        } finally {
          active--;
        }
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);

    // Two running and three waiting: the sixth is refused at once, without running.
    let ranSixth = false;
    const refused = run(async () => {
      ranSixth = true;
      return Promise.resolve(-1);
    });
    await expect(refused).rejects.toSatisfy((e) => e instanceof DomainError && e.code === 'busy');
    expect(ranSixth).toBe(false);

    gates[1]!.open();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    await settle();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    gates[3]!.open();
    gates[4]!.open();
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4]);
    expect(active).toBe(0);
  });

  it('frees the slot of a task that fails and passes its error on', async () => {
    const run = createLimiter(1, 1);
    const first = gate<number>();
    const failing = run(() => first.promise);
    const queued = run(() => Promise.resolve('next'));
    first.fail(new Error('task failed'));
    await expect(failing).rejects.toThrow('task failed');
    expect(await queued).toBe('next');
    // The slot is free again: a new task runs straight away.
    expect(await run(() => Promise.resolve('after'))).toBe('after');
  });

  it('with no queue refuses as soon as every slot is busy, and recovers once one frees', async () => {
    const run = createLimiter(1, 0);
    const g = gate();
    const busy = run(() => g.promise);
    await expect(run(() => Promise.resolve())).rejects.toMatchObject({ code: 'busy', message: 'server busy, try again shortly' });
    g.open();
    await busy;
    expect(await run(() => Promise.resolve(7))).toBe(7);
  });

  it('keeps the running count exact over many rounds', async () => {
    const run = createLimiter(3, 100);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        run(async () => {
          active++;
          peak = Math.max(peak, active);
          await settle();
          active--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  it('tells an observer the queue depth after each change and every refusal', async () => {
    const depths: number[] = [];
    let refused = 0;
    const run = createLimiter(1, 1, { queueDepth: (n) => depths.push(n), refused: () => refused++ });
    const first = gate();
    const running = run(() => first.promise);
    const queued = run(() => Promise.resolve());
    await expect(run(() => Promise.resolve())).rejects.toBeInstanceOf(DomainError);
    expect(depths).toEqual([1]);
    expect(refused).toBe(1);
    first.open();
    await Promise.all([running, queued]);
    await settle();
    expect(depths).toEqual([1, 0]);
  });
});
