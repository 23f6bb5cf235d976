import { describe, expect, it } from 'vitest';
import { parseOptions, SECTIONS } from './options.ts';

describe('bench options', () => {
  it('runs every section but the 30-minute soak when none is named', () => {
    const { sections } = parseOptions([]);
    expect(sections).not.toContain('soak');
    expect(sections).toEqual(SECTIONS.filter((s) => s !== 'soak'));
  });

  it('runs the soak when named: 30 minutes, 2 with --quick, or --soak-minutes', () => {
    expect(parseOptions(['soak']).sections).toEqual(['soak']);
    expect(parseOptions(['soak']).soak).toMatchObject({ minutes: 30, rate: 300, receivers: 2_000, referenceMinute: 5 });
    expect(parseOptions(['soak', '--quick']).soak).toMatchObject({ minutes: 2, referenceMinute: 1 });
    expect(parseOptions(['soak', '--soak-minutes=8']).soak).toMatchObject({ minutes: 8, referenceMinute: 5 });
    expect(parseOptions(['soak', '--soak-minutes=3']).soak.referenceMinute).toBe(3);
    expect(() => parseOptions(['soak', '--soak-minutes=0'])).toThrow(/--soak-minutes/);
  });

  it('runs webhooks by default: 100 users, 100 msg/s for 20 s; --quick shrinks it', () => {
    expect(parseOptions([]).sections).toContain('webhooks');
    expect(parseOptions(['webhooks']).webhooks).toEqual({ users: 100, rate: 100, durationMs: 20_000, settleMs: 30_000 });
    expect(parseOptions(['webhooks', '--quick']).webhooks).toMatchObject({ users: 20, rate: 40, durationMs: 5_000 });
  });
});
