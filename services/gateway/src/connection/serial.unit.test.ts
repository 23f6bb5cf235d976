import { describe, expect, it } from 'vitest';
import { SerialQueue } from './serial.ts';

describe('SerialQueue', () => {
  it('runs tasks one at a time in push order, and refuses beyond its limit', async () => {
    const q = new SerialQueue(2, () => {});
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    expect(q.push(() => gate.then(() => void log.push('a')))).toBe(true);
    expect(q.push(() => Promise.resolve(void log.push('b')))).toBe(true);
    expect(q.push(() => Promise.resolve(void log.push('c')))).toBe(false);
    release();
    await new Promise<void>((resolve) => q.push(() => Promise.resolve(resolve())) || setTimeout(resolve, 50));
    expect(log).toEqual(['a', 'b']);
  });

  it('reports a failed task and goes on with the next', async () => {
    const errors: unknown[] = [];
    const q = new SerialQueue(5, (error) => errors.push(error));
    q.push(() => Promise.reject(new Error('boom')));
    await new Promise<void>((resolve) => q.push(() => Promise.resolve(resolve())));
    expect(errors).toEqual([new Error('boom')]);
  });
});
