import { ms } from '../../scripts/bench/format.ts';

// The ramp's verdict per step and its knee, as the k6 ramp's handleSummary()
// (loadtest/scenarios/ramp.js) judges them.

export interface KneeCriteria {
  /** p95 send and delivery latency under this, ms. */
  latencyMs: number;
  /** Send errors under this share. */
  errorRate: number;
  /** Listeners got at least this share of what was sent. */
  minDelivery: number;
  /** At least this share of the target rate was sent. */
  minKeptUp: number;
}

/** What one step measured. */
export interface StepFigures {
  stage: number;
  restRate: number;
  /** REST plus socket senders, messages/s. */
  targetRate: number;
  stepSeconds: number;
  /** Stored. */
  sent: number;
  /** Distinct deliveries over every listener. */
  received: number;
  listeners: number;
  sendP95: number;
  deliveryP95: number;
  errorRate: number;
}

export interface Step {
  stage: number;
  target_rest_rate: number;
  target_rate: number;
  achieved_rate: number;
  sent: number;
  received: number;
  delivery_ratio: number;
  send_p95_ms: number;
  delivery_p95_ms: number;
  error_rate: number;
  ok: boolean;
  /** The criteria it missed. */
  over: string[];
}

const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;

export function judgeStep(f: StepFigures, c: KneeCriteria): Step {
  const achieved = f.sent / f.stepSeconds;
  const delivery = f.sent > 0 && f.listeners > 0 ? f.received / (f.sent * f.listeners) : 0;
  const over: string[] = [];
  // NaN (nothing measured) is over.
  if (!(f.sendP95 < c.latencyMs)) over.push('send p95');
  if (!(f.deliveryP95 < c.latencyMs)) over.push('delivery p95');
  if (f.errorRate >= c.errorRate) over.push('errors');
  if (delivery < c.minDelivery) over.push('delivery ratio');
  if (achieved < c.minKeptUp * f.targetRate) over.push('rate not reached');
  return {
    stage: f.stage,
    target_rest_rate: f.restRate,
    target_rate: f.targetRate,
    achieved_rate: Math.round(achieved * 10) / 10,
    sent: f.sent,
    received: f.received,
    delivery_ratio: Math.round(delivery * 10000) / 10000,
    send_p95_ms: f.sendP95,
    delivery_p95_ms: f.deliveryP95,
    error_rate: f.errorRate,
    ok: over.length === 0,
    over,
  };
}

/**
 * The knee: the highest step that stayed within the limits. A lower step that
 * went over is reported beside it (on a shared machine one step can be noisy).
 * Returns it for the JSON report and the summary's table and knee lines.
 */
export function knee(steps: Step[], c: KneeCriteria) {
  const firstFailed = steps.findIndex((s) => !s.ok);
  const kneeStep = [...steps].reverse().find((s) => s.ok);
  const figures = {
    reached: firstFailed !== -1,
    rate: kneeStep?.achieved_rate ?? null,
    target_rate: kneeStep?.target_rate ?? null,
    stage: kneeStep?.stage ?? null,
    first_over_stage: firstFailed === -1 ? null : firstFailed,
    first_over_rate: firstFailed === -1 ? null : (steps[firstFailed]?.target_rate ?? null),
    criteria: { latency_p95_ms: c.latencyMs, error_rate: c.errorRate, delivery_ratio: c.minDelivery, kept_up: c.minKeptUp },
  };
  const lines = [
    '  STEPS (rate = messages/s sent over REST and sockets; latencies p95)',
    '    step  target  achieved   sent  received  delivered  send p95  delivery p95  errors  within',
    ...steps.map(
      (s) =>
        `    ${String(s.stage).padStart(4)}  ${String(s.target_rate).padStart(6)}  ${String(s.achieved_rate).padStart(8)}  ${String(s.sent).padStart(5)}  ${String(s.received).padStart(8)}  ${pct(s.delivery_ratio).padStart(9)}  ${ms(s.send_p95_ms).padStart(8)}  ${ms(s.delivery_p95_ms).padStart(12)}  ${pct(s.error_rate).padStart(6)}  ${s.ok ? 'yes' : `no: ${s.over.join(', ')}`}`,
    ),
    '',
  ];
  const firstOver = steps[firstFailed];
  if (!kneeStep) {
    lines.push(`  KNEE: below the first step (${steps[0]?.target_rate} msg/s already over: ${steps[0]?.over.join(', ')})`);
  } else if (!firstOver) {
    lines.push(
      `  KNEE: not reached; every step held, up to ${kneeStep.achieved_rate} msg/s (target ${kneeStep.target_rate}). Raise RAMP_MAX_RATE to find it.`,
    );
  } else {
    const above = steps[kneeStep.stage + 1];
    lines.push(
      `  KNEE: ${kneeStep.achieved_rate} msg/s (target ${kneeStep.target_rate}, step ${kneeStep.stage})` +
        (above ? `; step ${above.stage} (${above.target_rate} msg/s) went over: ${above.over.join(', ')}` : '; the last step held'),
    );
    if (firstOver.stage < kneeStep.stage)
      lines.push(`        (step ${firstOver.stage}, ${firstOver.target_rate} msg/s, already went over once: ${firstOver.over.join(', ')})`);
  }
  lines.push(
    `        (p95 send and delivery < ${c.latencyMs} ms, errors < ${pct(c.errorRate)}, delivered >= ${pct(c.minDelivery)}, >= ${pct(c.minKeptUp)} of the target rate)`,
  );
  return { knee: figures, lines };
}
