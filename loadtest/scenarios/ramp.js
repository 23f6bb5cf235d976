// ramp: REST senders stepping up their rate while plain-WS and Socket.IO listeners
// measure delivery, plus a few socket senders of each kind at a small fixed rate.
// Reports the knee: the highest step at which send and delivery latency (p95)
// stayed under KNEE_LATENCY_MS, errors under KNEE_ERROR_RATE, listeners got at
// least 99% of what was sent and the senders kept up (90% of the target rate).
// For users with their own k6; CI runs the same scenario, with the same
// thresholds, on the project's Node load driver (loadtest/node/ramp.ts).
//
//   npm run loadtest -- ramp --k6                         # own cluster, 60 s, your own k6
//   DURATION_SECONDS=30 RAMP_MAX_RATE=300 npm run loadtest -- ramp --k6
//   k6 run -e BASE_URL=http://localhost:8080 loadtest/scenarios/ramp.js
//
// Steps: RAMP_STEPS equal steps over DURATION_SECONDS, from RAMP_START_RATE to
// RAMP_MAX_RATE REST messages per second (ramping-arrival-rate, jumping at each
// step). Every figure is tagged with the step (`stage` tag) it was sent in; the
// per-step figures come from sub-metrics (`chat_send_latency{stage:2}`, ...),
// which k6 only keeps for metrics with thresholds, hence the always-true ones.
// See loadtest/README.md.

import exec from 'k6/execution';
import { check } from 'k6';
import { setTimeout } from 'k6/timers';
import { WS_URL, intEnv, numEnv, randomId } from '../lib/config.js';
import { Receiver } from '../lib/receiver.js';
import { restSend, socketSender } from '../lib/senders.js';
import { fmt, pct, summaryOutput } from '../lib/summary.js';
import { checkHealth, createUsers, userFor } from '../lib/users.js';

/** @typedef {import('../lib/users.js').User} User */
/** @typedef {{ runId: string, senders: User[], wsListeners: User[], sioListeners: User[] }} SetupData */
/** @typedef {import('../lib/summary.js').SummaryData} SummaryData */

const DURATION_SECONDS = intEnv('DURATION_SECONDS', 60);
const START_RATE = intEnv('RAMP_START_RATE', 10);
const MAX_RATE = intEnv('RAMP_MAX_RATE', 200);
const STEPS = Math.max(1, intEnv('RAMP_STEPS', 6));
const WS_LISTENERS = intEnv('WS_LISTENERS', 4);
const SIO_LISTENERS = intEnv('SIO_LISTENERS', 4);
const WS_SENDERS = intEnv('WS_SENDERS', 2);
const SIO_SENDERS = intEnv('SIO_SENDERS', 2);
const SOCKET_SEND_RATE = numEnv('SOCKET_SEND_RATE', 2); // per socket sender
const SENDER_USERS = Math.max(1, intEnv('SENDER_USERS', 20));
const MAX_VUS = intEnv('MAX_VUS', Math.max(20, Math.ceil(MAX_RATE / 2)));
const KNEE_LATENCY_MS = numEnv('KNEE_LATENCY_MS', 250);
const KNEE_ERROR_RATE = numEnv('KNEE_ERROR_RATE', 0.01);
const KNEE_MIN_DELIVERY = 0.99;
const KNEE_MIN_KEPT_UP = 0.9;
const DELIVERY_P95_MS = numEnv('DELIVERY_P95_MS', 1000);
const LOST_TOLERANCE = intEnv('LOST_TOLERANCE', 0);

const LEAD_SECONDS = 3; // listeners and socket senders connect first
const TAIL_SECONDS = 5; // and listen this long after the last send
const STEP_SECONDS = DURATION_SECONDS / STEPS;
const LISTENERS = WS_LISTENERS + SIO_LISTENERS;
const SOCKET_RATE = (WS_SENDERS + SIO_SENDERS) * SOCKET_SEND_RATE;
/** REST target rate of each step. */
const RATES = Array.from({ length: STEPS }, (_, i) =>
  STEPS === 1 ? MAX_RATE : Math.round(START_RATE + ((MAX_RATE - START_RATE) * i) / (STEPS - 1)),
);
const RUN_ID = randomId(8);

/** The step now, from the scenario's start (socket senders start at the same moment as the REST one). */
function currentStage() {
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  return Math.max(0, Math.min(STEPS - 1, Math.floor(elapsed / STEP_SECONDS)));
}

/** @type {Record<string, string[]>} */
const thresholds = {
  http_req_failed: ['rate<0.01'],
  checks: ['rate>0.99'],
  chat_send_errors: ['rate<0.01'],
  chat_messages_sent: ['count>0'],
  'chat_messages_received{kind:ws}': ['count>0'],
  'chat_messages_received{kind:socket.io}': ['count>0'],
  chat_delivery_latency: [`p(95)<${DELIVERY_P95_MS}`],
  chat_messages_lost: [`count<=${LOST_TOLERANCE}`],
  chat_messages_duplicated: ['count<1'],
  chat_connect_success: ['rate==1'],
};
// Always true: they only make k6 keep the per-step sub-metrics for handleSummary().
for (let i = 0; i < STEPS; i++) {
  thresholds[`chat_send_latency{stage:${i}}`] = ['p(95)>=0'];
  thresholds[`chat_delivery_latency{stage:${i}}`] = ['p(95)>=0'];
  thresholds[`chat_send_errors{stage:${i}}`] = ['rate>=0'];
  thresholds[`chat_messages_sent{stage:${i}}`] = ['count>=0'];
  thresholds[`chat_messages_received{stage:${i}}`] = ['count>=0'];
}

const listenSeconds = LEAD_SECONDS + DURATION_SECONDS + TAIL_SECONDS;
/** @type {Record<string, any>} */
const scenarios = {
  rest_sender: {
    executor: 'ramping-arrival-rate',
    exec: 'restSender',
    startTime: `${LEAD_SECONDS}s`,
    startRate: RATES[0],
    timeUnit: '1s',
    preAllocatedVUs: MAX_VUS,
    maxVUs: MAX_VUS,
    // Jump to each step's rate, then hold it for the step.
    stages: RATES.flatMap((rate) => [
      { target: rate, duration: '0s' },
      { target: rate, duration: `${STEP_SECONDS}s` },
    ]),
    gracefulStop: '5s',
  },
};
/** @param {string} name @param {string} fn @param {number} vus @param {string} startTime @param {number} seconds */
const oneShot = (name, fn, vus, startTime, seconds) => {
  if (vus > 0) scenarios[name] = { executor: 'per-vu-iterations', exec: fn, vus, iterations: 1, startTime, maxDuration: `${seconds + 30}s` };
};
oneShot('ws_listener', 'wsListener', WS_LISTENERS, '0s', listenSeconds);
oneShot('sio_listener', 'sioListener', SIO_LISTENERS, '0s', listenSeconds);
oneShot('ws_sender', 'wsSender', WS_SENDERS, `${LEAD_SECONDS}s`, DURATION_SECONDS);
oneShot('sio_sender', 'sioSender', SIO_SENDERS, `${LEAD_SECONDS}s`, DURATION_SECONDS);

export const options = {
  setupTimeout: '120s',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios,
  thresholds,
};

/** @returns {SetupData} */
export function setup() {
  checkHealth();
  return {
    runId: RUN_ID,
    senders: createUsers(RUN_ID, 's', SENDER_USERS + WS_SENDERS + SIO_SENDERS),
    wsListeners: createUsers(RUN_ID, 'w', WS_LISTENERS),
    sioListeners: createUsers(RUN_ID, 'i', SIO_LISTENERS),
  };
}

/** @param {SetupData} data */
export function restSender(data) {
  restSend(data.runId, userFor(data.senders.slice(0, SENDER_USERS), exec.vu.idInTest), `r${exec.vu.idInTest}`, { stage: currentStage() });
}

/**
 * @param {SetupData} data
 * @param {'ws' | 'socket.io'} kind
 * @param {User[]} users
 */
function listen(data, kind, users) {
  const index = exec.scenario.iterationInTest;
  const receiver = new Receiver({
    kind,
    wsBase: WS_URL,
    token: userFor(users, index).token,
    runId: data.runId,
    clientId: `k6-${data.runId}-l${exec.vu.idInTest}`,
    name: `listener ${index}`,
  });
  receiver.open();
  setTimeout(() => {
    check(null, {
      [`${kind} listener: connected`]: () => receiver.everConnected,
      [`${kind} listener: received messages`]: () => receiver.tracker.received > 0,
      [`${kind} listener: frames well-formed`]: () => receiver.badFrames === 0,
    });
    receiver.finish();
  }, listenSeconds * 1000);
}

/** @param {SetupData} data */
export function wsListener(data) {
  listen(data, 'ws', data.wsListeners);
}

/** @param {SetupData} data */
export function sioListener(data) {
  listen(data, 'socket.io', data.sioListeners);
}

/**
 * @param {SetupData} data
 * @param {'ws' | 'socket.io'} kind
 * @param {number} offset index of the first user of this kind among data.senders
 */
function sendOverSocket(data, kind, offset) {
  socketSender({
    kind,
    wsBase: WS_URL,
    runId: data.runId,
    user: userFor(data.senders, SENDER_USERS + offset + exec.scenario.iterationInTest),
    stream: `${kind === 'ws' ? 'w' : 'i'}${exec.vu.idInTest}`,
    rate: SOCKET_SEND_RATE,
    durationMs: DURATION_SECONDS * 1000,
    clientId: `k6-${data.runId}-s${exec.vu.idInTest}`,
    stage: currentStage,
  });
}

/** @param {SetupData} data */
export function wsSender(data) {
  sendOverSocket(data, 'ws', 0);
}

/** @param {SetupData} data */
export function sioSender(data) {
  sendOverSocket(data, 'socket.io', WS_SENDERS);
}

/**
 * Per-step figures and the knee.
 * @param {SummaryData} data
 */
export function handleSummary(data) {
  /** @param {string} metric @param {number} stage @param {string} value */
  const v = (metric, stage, value) => data.metrics[`${metric}{stage:${stage}}`]?.values[value];
  const stages = RATES.map((restRate, i) => {
    const sent = v('chat_messages_sent', i, 'count') ?? 0;
    const received = v('chat_messages_received', i, 'count') ?? 0;
    const sendP95 = v('chat_send_latency', i, 'p(95)');
    const deliveryP95 = v('chat_delivery_latency', i, 'p(95)');
    const errorRate = v('chat_send_errors', i, 'rate') ?? 0;
    const target = restRate + SOCKET_RATE;
    const achieved = sent / STEP_SECONDS;
    const delivery = sent > 0 ? received / (sent * LISTENERS) : 0;
    /** @type {string[]} */
    const over = [];
    if (sendP95 === undefined || sendP95 >= KNEE_LATENCY_MS) over.push('send p95');
    if (deliveryP95 === undefined || deliveryP95 >= KNEE_LATENCY_MS) over.push('delivery p95');
    if (errorRate >= KNEE_ERROR_RATE) over.push('errors');
    if (delivery < KNEE_MIN_DELIVERY) over.push('delivery ratio');
    if (achieved < KNEE_MIN_KEPT_UP * target) over.push('rate not reached');
    return {
      stage: i,
      target_rest_rate: restRate,
      target_rate: target,
      achieved_rate: Math.round(achieved * 10) / 10,
      sent,
      received,
      delivery_ratio: Math.round(delivery * 10000) / 10000,
      send_p95_ms: sendP95,
      delivery_p95_ms: deliveryP95,
      error_rate: errorRate,
      ok: over.length === 0,
      over,
    };
  });
  // The knee: the highest step that stayed within the limits. A lower step that
  // went over is reported beside it (on a shared machine one step can be noisy).
  const firstFailed = stages.findIndex((s) => !s.ok);
  const kneeStage = [...stages].reverse().find((s) => s.ok);
  const knee = {
    reached: firstFailed !== -1,
    rate: kneeStage?.achieved_rate ?? null,
    target_rate: kneeStage?.target_rate ?? null,
    stage: kneeStage?.stage ?? null,
    first_over_stage: firstFailed === -1 ? null : firstFailed,
    first_over_rate: firstFailed === -1 ? null : (stages[firstFailed]?.target_rate ?? null),
    criteria: { latency_p95_ms: KNEE_LATENCY_MS, error_rate: KNEE_ERROR_RATE, delivery_ratio: KNEE_MIN_DELIVERY, kept_up: KNEE_MIN_KEPT_UP },
  };

  const lines = [
    '  STEPS (rate = messages/s sent over REST and sockets; latencies p95)',
    '    step  target  achieved   sent  received  delivered  send p95  delivery p95  errors  within',
  ];
  for (const s of stages) {
    lines.push(
      `    ${String(s.stage).padStart(4)}  ${String(s.target_rate).padStart(6)}  ${String(s.achieved_rate).padStart(8)}  ${String(s.sent).padStart(5)}  ${String(s.received).padStart(8)}  ${pct(s.delivery_ratio).padStart(9)}  ${fmt(s.send_p95_ms, true).padStart(8)}  ${fmt(s.delivery_p95_ms, true).padStart(12)}  ${pct(s.error_rate).padStart(6)}  ${s.ok ? 'yes' : `no: ${s.over.join(', ')}`}`,
    );
  }
  lines.push('');
  const firstOver = stages[firstFailed];
  if (!kneeStage) {
    lines.push(`  KNEE: below the first step (${stages[0]?.target_rate} msg/s already over: ${stages[0]?.over.join(', ')})`);
  } else if (!firstOver) {
    lines.push(
      `  KNEE: not reached; every step held, up to ${kneeStage.achieved_rate} msg/s (target ${kneeStage.target_rate}). Raise RAMP_MAX_RATE to find it.`,
    );
  } else {
    const above = stages[kneeStage.stage + 1];
    lines.push(
      `  KNEE: ${kneeStage.achieved_rate} msg/s (target ${kneeStage.target_rate}, step ${kneeStage.stage})` +
        (above ? `; step ${above.stage} (${above.target_rate} msg/s) went over: ${above.over.join(', ')}` : '; the last step held'),
    );
    if (firstOver.stage < kneeStage.stage) {
      lines.push(`        (step ${firstOver.stage}, ${firstOver.target_rate} msg/s, already went over once: ${firstOver.over.join(', ')})`);
    }
  }
  lines.push(
    `        (p95 send and delivery < ${KNEE_LATENCY_MS} ms, errors < ${pct(KNEE_ERROR_RATE)}, delivered >= ${pct(KNEE_MIN_DELIVERY)}, >= ${pct(KNEE_MIN_KEPT_UP)} of the target rate)`,
  );

  const settings = {
    duration_seconds: DURATION_SECONDS,
    steps: STEPS,
    step_seconds: STEP_SECONDS,
    rest_rates: RATES,
    socket_rate: SOCKET_RATE,
    ws_listeners: WS_LISTENERS,
    sio_listeners: SIO_LISTENERS,
    ws_senders: WS_SENDERS,
    sio_senders: SIO_SENDERS,
    sender_users: SENDER_USERS,
    max_vus: MAX_VUS,
  };
  return summaryOutput('ramp', data, { settings, knee, stages }, lines);
}
