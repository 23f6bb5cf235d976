import { openLoop } from '../../scripts/bench/clients/open-loop.ts';
import type { Sender } from '../../scripts/bench/clients/senders.ts';
import { ms, num } from '../../scripts/bench/format.ts';
import { percentiles, sleep } from '../../scripts/bench/stats.ts';
import {
  Checks,
  checkHealth,
  checksPassed,
  checksReport,
  collect,
  createUsers,
  deliveries,
  failingChecks,
  finish,
  httpFailed,
  intEnv,
  latencyOf,
  listenerChecks,
  main,
  newRunId,
  numEnv,
  pct,
  Rate,
  rateOf,
  restSenders,
  say,
  SendLog,
  socketSenders,
  startListeners,
  target,
  type Received,
  type SendKind,
  type Threshold,
} from './common.ts';
import { judgeStep, knee, type KneeCriteria } from './knee.ts';

// ramp on the project's Node load driver (`npm run loadtest -- ramp`, in CI): REST
// senders step up their rate (open loop, on the wall clock's schedule) while
// plain-WS and Socket.IO listeners measure delivery, plus a few socket senders of
// each kind at a small fixed rate. Reports every step and the knee: the highest
// step at which send and delivery latency (p95) stayed under KNEE_LATENCY_MS,
// errors under KNEE_ERROR_RATE, listeners got at least 99% of what was sent and
// the senders kept up (90% of the target rate). The thresholds are the k6 ramp's
// (loadtest/scenarios/ramp.js). Settings are environment variables or
// `-e NAME=value`, with the k6 script's names; see loadtest/README.md.
//
//   node loadtest/node/ramp.ts                        # against BASE_URL (http://localhost:8080)

const SCENARIO = 'ramp';

async function run(): Promise<number> {
  const DURATION_SECONDS = intEnv('DURATION_SECONDS', 60);
  const START_RATE = intEnv('RAMP_START_RATE', 10);
  const MAX_RATE = intEnv('RAMP_MAX_RATE', 200);
  const STEPS = Math.max(1, intEnv('RAMP_STEPS', 6));
  const WS_LISTENERS = intEnv('WS_LISTENERS', 4);
  const SIO_LISTENERS = intEnv('SIO_LISTENERS', 4);
  const WS_SENDERS = intEnv('WS_SENDERS', 2);
  const SIO_SENDERS = intEnv('SIO_SENDERS', 2);
  const SOCKET_SEND_RATE = numEnv('SOCKET_SEND_RATE', 2);
  const SENDER_USERS = Math.max(1, intEnv('SENDER_USERS', 20));
  const KNEE_LATENCY_MS = numEnv('KNEE_LATENCY_MS', 250);
  const KNEE_ERROR_RATE = numEnv('KNEE_ERROR_RATE', 0.01);
  const DELIVERY_P95_MS = numEnv('DELIVERY_P95_MS', 1000);
  const LOST_TOLERANCE = intEnv('LOST_TOLERANCE', 0);
  // At most this long after the last answer for the last messages to arrive (it stops as soon as they have).
  const TAIL_SECONDS = 30;

  const STEP_MS = (DURATION_SECONDS * 1000) / STEPS;
  const LISTENERS = WS_LISTENERS + SIO_LISTENERS;
  const SOCKET_RATE = (WS_SENDERS + SIO_SENDERS) * SOCKET_SEND_RATE;
  const RATES = Array.from({ length: STEPS }, (_, i) =>
    STEPS === 1 ? MAX_RATE : Math.round(START_RATE + ((MAX_RATE - START_RATE) * i) / (STEPS - 1)),
  );

  const t = target();
  const runId = newRunId();
  const log = (line: string) => say(SCENARIO, line);
  const restTag = (i: number) => `${runId}r${i}`;
  const socketTag = (i: number) => `${runId}s${i}`;
  log(
    `${t.baseUrl}, run ${runId}: REST ${RATES.join(' -> ')} msg/s in ${STEPS} steps of ${STEP_MS / 1000} s, ` +
      `+ ${SOCKET_RATE} msg/s from ${WS_SENDERS} + ${SIO_SENDERS} socket senders; ${WS_LISTENERS} + ${SIO_LISTENERS} listeners` +
      (t.spread ? '; clients spread over loopback addresses' : ''),
  );

  const http = new Rate();
  const checks = new Checks();
  const connects = new Rate();
  const sends = new SendLog();
  await checkHealth(t, http);
  const users = await createUsers(t, runId, { r: SENDER_USERS, w: WS_SENDERS, i: SIO_SENDERS, lw: WS_LISTENERS, li: SIO_LISTENERS }, http);
  const pools = {
    ws: await startListeners(t, runId, 'ws', users.lw, 0),
    'socket.io': await startListeners(t, runId, 'socket.io', users.li, WS_LISTENERS),
  };
  for (const pool of Object.values(pools)) {
    for (let i = 0; i < pool.size; i++) connects.add(i < pool.connected.live);
    for (const error of pool.connected.errors) console.warn(`listener: ${error}`);
  }
  const follow = (senders: Sender[], kind: SendKind) => senders.map((s) => sends.follow(s, kind, http));
  const wsSenders = follow(await socketSenders(t, runId, 'ws', users.w, connects), 'ws');
  const sioSenders = follow(await socketSenders(t, runId, 'socket.io', users.i, connects), 'socket.io');
  const socketSide = [...wsSenders, ...sioSenders];
  const rest = follow(restSenders(t, users.r, 100), 'rest');
  // A socket sender that never connected is a failed send, as in the k6 script.
  const missingSenders = WS_SENDERS + SIO_SENDERS - socketSide.length;

  let received: Received[];
  let maxLagMs = 0;
  const started = Date.now();
  try {
    log(`connected: ${connects.passes} of ${connects.total} sockets; ramping`);
    for (let i = 0; i < STEPS; i++) {
      const stepStart = Date.now();
      const before = sends.results.length;
      const loops = await Promise.all([
        openLoop(rest, { rate: RATES[i] ?? 0, durationMs: STEP_MS, tag: restTag(i), answerTimeoutMs: 0 }),
        socketSide.length > 0
          ? openLoop(socketSide, { rate: socketSide.length * SOCKET_SEND_RATE, durationMs: STEP_MS, tag: socketTag(i), answerTimeoutMs: 0 })
          : undefined,
      ]);
      maxLagMs = Math.max(maxLagMs, ...loops.map((l) => l?.maxLagMs ?? 0));
      // The loops return with their last send; the step lasts its full time.
      await sleep(stepStart + STEP_MS - Date.now());
      const answered = sends.results.slice(before);
      log(
        `step ${i}: ${(RATES[i] ?? 0) + SOCKET_RATE} msg/s target, ${num(answered.filter((r) => r.ok).length)} stored and ${answered.filter((r) => !r.ok).length} failed answers in ${(STEP_MS / 1000).toFixed(0)} s`,
      );
    }
    await sends.answered(35_000);
    const deadline = Date.now() + TAIL_SECONDS * 1000;
    const stored = sends.storedByTag();
    received = [await collect('ws', pools.ws, stored, deadline), await collect('socket.io', pools['socket.io'], stored, deadline)];
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; generator lag at most ${ms(maxLagMs)}`);
  } finally {
    for (const s of [...rest, ...socketSide]) s.close();
    await Promise.all([pools.ws.close(), pools['socket.io'].close()]);
  }

  const stored = sends.storedByTag();
  const allTags = RATES.flatMap((_, i) => [restTag(i), socketTag(i)]);
  const sendErrors = new Rate();
  for (const r of sends.results) {
    sendErrors.add(!r.ok);
    if (r.kind === 'rest') checks.add('message stored (2xx)', r.ok);
  }
  for (let i = 0; i < missingSenders; i++) sendErrors.add(true);

  const kinds = received.map((r) => {
    const d = deliveries(r, stored, allTags);
    listenerChecks(checks, r, d.perListener, d.malformed);
    return { kind: r.kind, drops: r.drops, ...d };
  });
  const ws = kinds.find((k) => k.kind === 'ws');
  const sio = kinds.find((k) => k.kind === 'socket.io');
  const samples = kinds.flatMap((k) => k.samples);
  const latency = percentiles(samples);
  const total = (f: (k: (typeof kinds)[number]) => number) => kinds.reduce((n, k) => n + f(k), 0);
  const lost = total((k) => k.lost);
  const duplicated = total((k) => k.duplicated);
  const sentBy = (kind: SendKind) => sends.results.filter((r) => r.kind === kind && r.ok).length;
  const sentOk = sends.results.filter((r) => r.ok).length;

  const criteria: KneeCriteria = { latencyMs: KNEE_LATENCY_MS, errorRate: KNEE_ERROR_RATE, minDelivery: 0.99, minKeptUp: 0.9 };
  const steps = RATES.map((restRate, i) => {
    const tags = [restTag(i), socketTag(i)];
    const inStep = sends.results.filter((r) => tags.includes(r.tag));
    const per = received.map((r) => deliveries(r, stored, tags));
    return judgeStep(
      {
        stage: i,
        restRate,
        targetRate: restRate + SOCKET_RATE,
        stepSeconds: STEP_MS / 1000,
        sent: inStep.filter((r) => r.ok).length,
        received: per.reduce((n, d) => n + d.distinct, 0),
        listeners: LISTENERS,
        sendP95: percentiles(inStep.map((r) => r.ms)).p95,
        deliveryP95: percentiles(per.flatMap((d) => d.samples)).p95,
        errorRate: inStep.length === 0 ? 0 : inStep.filter((r) => !r.ok).length / inStep.length,
      },
      criteria,
    );
  });
  const verdict = knee(steps, criteria);

  const count = (metric: string, expression: string, n: number, ok: boolean): Threshold => ({ metric, expression, value: `count=${num(n)}`, ok });
  const thresholds: Threshold[] = [
    httpFailed(http),
    checksPassed(checks),
    {
      metric: 'chat_send_errors',
      expression: 'rate<0.01',
      value: `rate=${pct(sendErrors.rate)} (${num(sendErrors.passes)} of ${num(sendErrors.total)})`,
      ok: sendErrors.rate < 0.01,
    },
    count('chat_messages_sent{kind:rest}', 'count>0', sentBy('rest'), sentBy('rest') > 0),
    ...(WS_SENDERS > 0 ? [count('chat_messages_sent{kind:ws}', 'count>0', sentBy('ws'), sentBy('ws') > 0)] : []),
    ...(SIO_SENDERS > 0 ? [count('chat_messages_sent{kind:socket.io}', 'count>0', sentBy('socket.io'), sentBy('socket.io') > 0)] : []),
    count('chat_messages_received{kind:ws}', 'count>0', ws?.distinct ?? 0, (ws?.distinct ?? 0) > 0),
    count('chat_messages_received{kind:socket.io}', 'count>0', sio?.distinct ?? 0, (sio?.distinct ?? 0) > 0),
    { metric: 'chat_delivery_latency', expression: `p(95)<${DELIVERY_P95_MS}`, value: `p(95)=${ms(latency.p95)}`, ok: latency.p95 < DELIVERY_P95_MS },
    count('chat_messages_lost', `count<=${LOST_TOLERANCE}`, lost, lost <= LOST_TOLERANCE),
    count('chat_messages_duplicated', 'count<1', duplicated, duplicated < 1),
    { metric: 'chat_connect_success', expression: 'rate==1', value: rateOf(connects), ok: connects.rate === 1 },
  ];
  const failing = failingChecks(checks);
  const sendLatency = (kind: SendKind) => latencyOf(sends.results.filter((r) => r.kind === kind).map((r) => r.ms));

  return finish({
    scenario: SCENARIO,
    header: [
      `run ${runId} against ${t.baseUrl}: REST ${RATES.join(' -> ')} msg/s in ${STEPS} steps of ${STEP_MS / 1000} s, ` +
        `+ ${SOCKET_RATE} msg/s over sockets; ${WS_LISTENERS} plain-WS + ${SIO_LISTENERS} Socket.IO listeners`,
    ],
    thresholds,
    figures: [
      `sent: ${num(sentOk)} stored (REST ${num(sentBy('rest'))}, plain WS ${num(sentBy('ws'))}, Socket.IO ${num(sentBy('socket.io'))}) of ${num(sends.results.length)} sent`,
      `received: plain WS ${num(ws?.distinct ?? 0)}, Socket.IO ${num(sio?.distinct ?? 0)}; ${num(total((k) => k.distinct))} of ${num(sentOk * LISTENERS)} deliveries`,
      `delivery latency, send -> arrival: ${latencyOf(samples)}`,
      `  plain WS: ${latencyOf(ws?.samples ?? [])}`,
      `  Socket.IO: ${latencyOf(sio?.samples ?? [])}`,
      `send latency (REST request, socket send -> ack):`,
      `  REST: ${sendLatency('rest')}`,
      `  plain WS: ${sendLatency('ws')}`,
      `  Socket.IO: ${sendLatency('socket.io')}`,
      `lost ${num(lost)}, duplicated ${num(duplicated)}, malformed ${num(total((k) => k.malformed))}, listeners dropped ${num(total((k) => k.drops))}`,
      `errors: ${num(http.fails)} of ${num(http.total)} HTTP requests, ${num(sendErrors.passes)} of ${num(sendErrors.total)} sends`,
      `connects: ${rateOf(connects)}; checks: ${rateOf(checks.all)}${failing.length ? `; ${failing.join('; ')}` : ''}`,
      `generator lag (scheduled -> sent): at most ${ms(maxLagMs)}`,
    ],
    extra: verdict.lines,
    report: {
      run_id: runId,
      base_url: t.baseUrl,
      settings: {
        duration_seconds: DURATION_SECONDS,
        steps: STEPS,
        step_seconds: STEP_MS / 1000,
        rest_rates: RATES,
        socket_rate: SOCKET_RATE,
        ws_listeners: WS_LISTENERS,
        sio_listeners: SIO_LISTENERS,
        ws_senders: WS_SENDERS,
        sio_senders: SIO_SENDERS,
        sender_users: SENDER_USERS,
        delivery_p95_ms: DELIVERY_P95_MS,
        lost_tolerance: LOST_TOLERANCE,
      },
      knee: verdict.knee,
      stages: steps,
      sent: { rest: sentBy('rest'), ws: sentBy('ws'), 'socket.io': sentBy('socket.io') },
      send_errors: sendErrors.passes,
      received: { ws: ws?.distinct ?? 0, 'socket.io': sio?.distinct ?? 0 },
      delivery_latency_ms: { all: latency, ws: percentiles(ws?.samples ?? []), 'socket.io': percentiles(sio?.samples ?? []) },
      lost,
      duplicated,
      connects: { passes: connects.passes, fails: connects.fails },
      http: { requests: http.total, failed: http.fails },
      checks: checksReport(checks),
      generator_lag_ms: maxLagMs,
    },
  });
}

main(SCENARIO, run);
