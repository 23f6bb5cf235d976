import { openLoop } from '../../scripts/bench/clients/open-loop.ts';
import { ms, num } from '../../scripts/bench/format.ts';
import { percentiles } from '../../scripts/bench/stats.ts';
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
  Rate,
  rateOf,
  restSenders,
  say,
  SendLog,
  startListeners,
  target,
  type Received,
} from './common.ts';

// The smoke on the project's Node load driver (`npm run loadtest:smoke`, in CI):
// REST senders post global messages for DURATION_SECONDS while plain-WebSocket and
// Socket.IO listeners, connected first, count them. The same thresholds as the k6
// smoke (loadtest/smoke.js): REST errors < 1%, checks > 99%, messages sent and
// received by both kinds, delivery p95 < DELIVERY_P95_MS (2000). Settings are
// environment variables or `-e NAME=value`; see loadtest/README.md.
//
//   node loadtest/node/smoke.ts                       # against BASE_URL (http://localhost:8080)

const SCENARIO = 'smoke';

async function run(): Promise<number> {
  const DURATION_SECONDS = intEnv('DURATION_SECONDS', 10);
  const SENDERS = intEnv('SENDERS', 2);
  const WS_CLIENTS = intEnv('WS_CLIENTS', 2);
  const SIO_CLIENTS = intEnv('SIO_CLIENTS', 2);
  const SEND_INTERVAL_SECONDS = numEnv('SEND_INTERVAL_SECONDS', 0.5);
  const DELIVERY_P95_MS = numEnv('DELIVERY_P95_MS', 2000);
  // At most this long after the last answer for the last messages to arrive (it stops as soon as they have).
  const TAIL_SECONDS = 10;
  if (SENDERS === 0 || SEND_INTERVAL_SECONDS === 0) throw new Error('SENDERS and SEND_INTERVAL_SECONDS must be above 0');

  const t = target();
  const runId = newRunId();
  const rate = SENDERS / SEND_INTERVAL_SECONDS;
  const log = (line: string) => say(SCENARIO, line);
  log(
    `${t.baseUrl}, run ${runId}: ${SENDERS} REST senders, ${rate} msg/s for ${DURATION_SECONDS} s; ${WS_CLIENTS} plain-WS + ${SIO_CLIENTS} Socket.IO listeners`,
  );

  const http = new Rate();
  const checks = new Checks();
  const sends = new SendLog();
  await checkHealth(t, http);
  const users = await createUsers(t, runId, { s: SENDERS, w: WS_CLIENTS, i: SIO_CLIENTS }, http);
  const pools = {
    ws: await startListeners(t, runId, 'ws', users.w, 0),
    'socket.io': await startListeners(t, runId, 'socket.io', users.i, WS_CLIENTS),
  };
  const senders = restSenders(t, users.s, 100).map((s) => sends.follow(s, 'rest', http));
  const started = Date.now();
  let received: Received[];
  try {
    log(`listeners connected: ${pools.ws.connected.live} + ${pools['socket.io'].connected.live} of ${WS_CLIENTS + SIO_CLIENTS}; sending`);
    const sent = await openLoop(senders, { rate, durationMs: DURATION_SECONDS * 1000, tag: runId, answerTimeoutMs: 35_000 });
    await sends.answered(35_000);
    const stored = sends.storedByTag();
    const deadline = Date.now() + TAIL_SECONDS * 1000;
    received = [await collect('ws', pools.ws, stored, deadline), await collect('socket.io', pools['socket.io'], stored, deadline)];
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; generator lag at most ${ms(sent.maxLagMs)}`);
  } finally {
    for (const s of senders) s.close();
    await Promise.all([pools.ws.close(), pools['socket.io'].close()]);
  }

  const stored = sends.storedByTag();
  const sentOk = stored.get(runId) ?? 0;
  const sendErrors = new Rate();
  for (const r of sends.results) {
    sendErrors.add(!r.ok);
    checks.add('message stored (2xx)', r.ok);
  }
  const kinds = received.map((r) => {
    const d = deliveries(r, stored, [runId]);
    listenerChecks(checks, r, d.perListener, d.malformed);
    return { kind: r.kind, drops: r.drops, ...d };
  });
  const ws = kinds.find((k) => k.kind === 'ws');
  const sio = kinds.find((k) => k.kind === 'socket.io');
  const samples = kinds.flatMap((k) => k.samples);
  const latency = percentiles(samples);
  const total = (f: (k: (typeof kinds)[number]) => number) => kinds.reduce((n, k) => n + f(k), 0);
  const failing = failingChecks(checks);

  return finish({
    scenario: SCENARIO,
    header: [
      `run ${runId} against ${t.baseUrl}: ${SENDERS} REST senders at ${rate} msg/s for ${DURATION_SECONDS} s, ${WS_CLIENTS} + ${SIO_CLIENTS} listeners`,
    ],
    thresholds: [
      httpFailed(http),
      checksPassed(checks),
      { metric: 'chat_messages_sent', expression: 'count>0', value: `count=${sentOk}`, ok: sentOk > 0 },
      { metric: 'chat_ws_messages_received', expression: 'count>0', value: `count=${ws?.distinct ?? 0}`, ok: (ws?.distinct ?? 0) > 0 },
      { metric: 'chat_sio_messages_received', expression: 'count>0', value: `count=${sio?.distinct ?? 0}`, ok: (sio?.distinct ?? 0) > 0 },
      {
        metric: 'chat_delivery_latency',
        expression: `p(95)<${DELIVERY_P95_MS}`,
        value: `p(95)=${ms(latency.p95)}`,
        ok: latency.p95 < DELIVERY_P95_MS,
      },
    ],
    figures: [
      `sent: ${num(sentOk)} stored of ${num(sends.results.length)} sent`,
      `received: plain WS ${num(ws?.distinct ?? 0)}, Socket.IO ${num(sio?.distinct ?? 0)} (each listener every message: ${num(sentOk * (WS_CLIENTS + SIO_CLIENTS))})`,
      `delivery latency, send -> arrival: ${latencyOf(samples)}`,
      `  plain WS: ${latencyOf(ws?.samples ?? [])}`,
      `  Socket.IO: ${latencyOf(sio?.samples ?? [])}`,
      `send latency, REST request: ${latencyOf(sends.results.map((r) => r.ms))}`,
      `lost ${total((k) => k.lost)}, duplicated ${total((k) => k.duplicated)}, malformed ${total((k) => k.malformed)}, listeners dropped ${total((k) => k.drops)}`,
      `errors: ${num(http.fails)} of ${num(http.total)} HTTP requests, ${num(sendErrors.passes)} of ${num(sendErrors.total)} sends`,
      `checks: ${rateOf(checks.all)}${failing.length ? `; ${failing.join('; ')}` : ''}`,
    ],
    report: {
      run_id: runId,
      base_url: t.baseUrl,
      settings: {
        duration_seconds: DURATION_SECONDS,
        senders: SENDERS,
        ws_clients: WS_CLIENTS,
        sio_clients: SIO_CLIENTS,
        send_interval_seconds: SEND_INTERVAL_SECONDS,
        delivery_p95_ms: DELIVERY_P95_MS,
      },
      sent: sentOk,
      send_errors: sendErrors.passes,
      received: { ws: ws?.distinct ?? 0, 'socket.io': sio?.distinct ?? 0 },
      delivery_latency_ms: { all: latency, ws: percentiles(ws?.samples ?? []), 'socket.io': percentiles(sio?.samples ?? []) },
      lost: total((k) => k.lost),
      duplicated: total((k) => k.duplicated),
      http: { requests: http.total, failed: http.fails },
      checks: checksReport(checks),
    },
  });
}

main(SCENARIO, run);
