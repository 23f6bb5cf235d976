import { describe, expect, it } from 'vitest';
import { judgeStep, knee, type KneeCriteria, type StepFigures } from './knee.ts';

const criteria: KneeCriteria = { latencyMs: 250, errorRate: 0.01, minDelivery: 0.99, minKeptUp: 0.9 };

/** A step of 10 s at `rate` that sent all of it, every listener got all of it, in 50 ms. */
const step = (stage: number, rate: number, over: Partial<StepFigures> = {}): StepFigures => ({
  stage,
  restRate: rate,
  targetRate: rate,
  stepSeconds: 10,
  sent: rate * 10,
  received: rate * 10 * 8,
  listeners: 8,
  sendP95: 50,
  deliveryP95: 50,
  errorRate: 0,
  ...over,
});

describe('the ramp knee', () => {
  it('judges each criterion of a step', () => {
    expect(judgeStep(step(0, 100), criteria)).toMatchObject({ ok: true, over: [], achieved_rate: 100, delivery_ratio: 1 });
    expect(judgeStep(step(0, 100, { sendP95: 250 }), criteria).over).toEqual(['send p95']);
    expect(judgeStep(step(0, 100, { deliveryP95: Number.NaN }), criteria).over).toEqual(['delivery p95']);
    expect(judgeStep(step(0, 100, { errorRate: 0.01 }), criteria).over).toEqual(['errors']);
    expect(judgeStep(step(0, 100, { received: 7000 }), criteria).over).toEqual(['delivery ratio']);
    expect(judgeStep(step(0, 100, { sent: 800, received: 6400 }), criteria).over).toEqual(['rate not reached']);
  });

  it('is the highest step within, with the step above it and an earlier miss named', () => {
    const steps = [step(0, 10), step(1, 50, { deliveryP95: 300 }), step(2, 90), step(3, 130, { sendP95: 400 })].map((f) => judgeStep(f, criteria));
    const { knee: k, lines } = knee(steps, criteria);
    expect(k).toMatchObject({ reached: true, rate: 90, stage: 2, first_over_stage: 1, first_over_rate: 50 });
    expect(lines.join('\n')).toContain('KNEE: 90 msg/s (target 90, step 2); step 3 (130 msg/s) went over: send p95');
    expect(lines.join('\n')).toContain('(step 1, 50 msg/s, already went over once: delivery p95)');
  });

  it('says when every step held, and when none did', () => {
    const held = knee(
      [step(0, 10), step(1, 20)].map((f) => judgeStep(f, criteria)),
      criteria,
    );
    expect(held.knee).toMatchObject({ reached: false, rate: 20 });
    expect(held.lines.join('\n')).toContain('KNEE: not reached; every step held, up to 20 msg/s');
    const none = knee([judgeStep(step(0, 10, { errorRate: 0.5 }), criteria)], criteria);
    expect(none.knee).toMatchObject({ reached: true, rate: null });
    expect(none.lines.join('\n')).toContain('KNEE: below the first step (10 msg/s already over: errors)');
  });
});
