// spike: CLIENTS sockets (half plain WebSocket, half Socket.IO) connect within
// CONNECT_SECONDS through nginx, then BURST_MESSAGES global messages are POSTed
// as fast as BURST_SENDERS senders can, and every client must receive every one.
//
//   npm run loadtest -- spike --k6                 # own cluster: 1000 clients, 50 messages
//   CLIENTS=300 npm run loadtest -- spike --k6
//   k6 run -e BASE_URL=http://localhost:8080 loadtest/scenarios/spike.js
//
// Each VU holds CLIENTS_PER_VU clients (k6's WebSocket is event-driven, so one VU
// serves many sockets at a fraction of a VU per client's memory); client n of the
// run opens its socket at n/CLIENTS of the connect window, so connections arrive
// evenly. Clients share USERS users (registration hashes passwords; a user may
// hold many connections). See loadtest/README.md.

import exec from 'k6/execution';
import { setTimeout } from 'k6/timers';
import { Rate, Trend } from 'k6/metrics';
import { WS_URL, intEnv, numEnv, randomId } from '../lib/config.js';
import { Receiver } from '../lib/receiver.js';
import { restSend } from '../lib/senders.js';
import { fmt, pct, summaryOutput } from '../lib/summary.js';
import { checkHealth, createUsers, userFor } from '../lib/users.js';

/** @typedef {import('../lib/users.js').User} User */
/** @typedef {{ runId: string, users: User[], senders: User[] }} SetupData */
/** @typedef {import('../lib/summary.js').SummaryData} SummaryData */

const CLIENTS = intEnv('CLIENTS', 1000);
const WS_SHARE = Math.min(1, numEnv('WS_SHARE', 0.5));
const CONNECT_SECONDS = intEnv('CONNECT_SECONDS', 10);
const CLIENTS_PER_VU = Math.max(1, intEnv('CLIENTS_PER_VU', 10));
const USERS = Math.max(1, intEnv('USERS', 100));
const BURST_MESSAGES = intEnv('BURST_MESSAGES', 50);
const BURST_SENDERS = Math.max(1, intEnv('BURST_SENDERS', 10));
const LISTEN_AFTER_SECONDS = intEnv('LISTEN_AFTER_SECONDS', 15);
const DELIVERY_P95_MS = numEnv('DELIVERY_P95_MS', 3000);
const CONNECT_P95_MS = numEnv('CONNECT_P95_MS', 3000);

const SETTLE_SECONDS = 3; // from the last connect to the burst
const VUS = Math.ceil(CLIENTS / CLIENTS_PER_VU);
const BURST_AT = CONNECT_SECONDS + SETTLE_SECONDS;
const END_AT = BURST_AT + LISTEN_AFTER_SECONDS;
const BURST_STREAM = 'b';
const RUN_ID = randomId(8);

/** One sample per client and burst message: did the client get it. */
const burstDelivered = new Rate('chat_burst_delivered');
/** Per client: from the burst's start until it had every burst message. */
const burstComplete = new Trend('chat_burst_complete_time', true);

export const options = {
  setupTimeout: '180s',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    clients: {
      executor: 'per-vu-iterations',
      exec: 'clients',
      vus: VUS,
      iterations: 1,
      maxDuration: `${END_AT + 30}s`,
    },
    burst: {
      executor: 'shared-iterations',
      exec: 'burst',
      vus: BURST_SENDERS,
      iterations: BURST_MESSAGES,
      startTime: `${BURST_AT}s`,
      maxDuration: `${LISTEN_AFTER_SECONDS}s`,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    chat_send_errors: ['rate<0.01'],
    chat_connect_success: ['rate>0.99'],
    chat_connect_time: [`p(95)<${CONNECT_P95_MS}`],
    chat_burst_delivered: ['rate>0.999'],
    chat_delivery_latency: [`p(95)<${DELIVERY_P95_MS}`],
    chat_messages_duplicated: ['count<1'],
    'chat_connect_success{kind:ws}': ['rate>=0'],
    'chat_connect_success{kind:socket.io}': ['rate>=0'],
    'chat_delivery_latency{kind:ws}': ['p(95)>=0'],
    'chat_delivery_latency{kind:socket.io}': ['p(95)>=0'],
  },
};

/** @returns {SetupData} */
export function setup() {
  checkHealth();
  return { runId: RUN_ID, users: createUsers(RUN_ID, 'u', USERS), senders: createUsers(RUN_ID, 'b', BURST_SENDERS) };
}

/** Client n is plain WS when the WS share passes a whole number at n: shares mix evenly. @param {number} n */
const kindOf = (n) => (Math.floor((n + 1) * WS_SHARE) > Math.floor(n * WS_SHARE) ? 'ws' : 'socket.io');

/** @param {SetupData} data */
export function clients(data) {
  const vuIndex = exec.scenario.iterationInTest; // one iteration per VU: 0..VUS-1
  const start = exec.scenario.startTime;
  const burstStart = start + BURST_AT * 1000;
  /** @type {Receiver[]} */
  const receivers = [];
  for (let j = 0; j < CLIENTS_PER_VU; j++) {
    const n = j * VUS + vuIndex;
    if (n >= CLIENTS) break;
    let complete = false;
    const receiver = new Receiver({
      kind: kindOf(n),
      wsBase: WS_URL,
      token: userFor(data.users, n).token,
      runId: data.runId,
      clientId: `k6-${data.runId}-${n}`,
      name: `client ${n}`,
      onOurs: (_message, _tag, _event, receivedAt) => {
        if (complete || (receiver.tracker.streams.get(BURST_STREAM)?.seen.size ?? 0) < BURST_MESSAGES) return;
        complete = true;
        burstComplete.add(receivedAt - burstStart, { kind: receiver.kind });
      },
    });
    receivers.push(receiver);
    const at = start + (n / CLIENTS) * CONNECT_SECONDS * 1000;
    setTimeout(() => receiver.open(), Math.max(0, at - Date.now()));
  }
  setTimeout(
    () => {
      for (const receiver of receivers) {
        const seen = receiver.tracker.streams.get(BURST_STREAM)?.seen;
        for (let k = 0; k < BURST_MESSAGES; k++) burstDelivered.add(seen?.has(k) ?? false, { kind: receiver.kind });
        receiver.finish();
      }
    },
    Math.max(0, start + END_AT * 1000 - Date.now()),
  );
}

/** @param {SetupData} data */
export function burst(data) {
  const seq = exec.scenario.iterationInTest; // 0..BURST_MESSAGES-1 across the senders
  restSend(data.runId, userFor(data.senders, exec.vu.idInTest), BURST_STREAM, { seq });
}

/** @param {SummaryData} data */
export function handleSummary(data) {
  /** @param {string} name @param {string} value */
  const v = (name, value) => data.metrics[name]?.values[value];
  const sent = v('chat_messages_sent', 'count') ?? 0;
  const delivered = v('chat_burst_delivered', 'passes') ?? 0;
  const expected = delivered + (v('chat_burst_delivered', 'fails') ?? 0);
  const report = {
    settings: {
      clients: CLIENTS,
      ws_share: WS_SHARE,
      connect_seconds: CONNECT_SECONDS,
      clients_per_vu: CLIENTS_PER_VU,
      users: USERS,
      burst_messages: BURST_MESSAGES,
      burst_senders: BURST_SENDERS,
    },
    connected: v('chat_connect_success', 'passes') ?? 0,
    connect_failed: v('chat_connect_success', 'fails') ?? 0,
    connect_p95_ms: v('chat_connect_time', 'p(95)'),
    burst_sent: sent,
    burst_deliveries_expected: expected,
    burst_deliveries: delivered,
    delivery_p95_ms: v('chat_delivery_latency', 'p(95)'),
    delivery_max_ms: v('chat_delivery_latency', 'max'),
    burst_complete_p95_ms: v('chat_burst_complete_time', 'p(95)'),
    burst_complete_max_ms: v('chat_burst_complete_time', 'max'),
  };
  const lines = [
    `  SPIKE: ${report.connected} of ${CLIENTS} clients connected within ${CONNECT_SECONDS} s (p95 connect ${fmt(report.connect_p95_ms, true)}); ` +
      `burst of ${sent}/${BURST_MESSAGES} messages: ${delivered} of ${expected} deliveries (${pct(expected ? delivered / expected : 0)}), ` +
      `delivery p95 ${fmt(report.delivery_p95_ms, true)}, max ${fmt(report.delivery_max_ms, true)}; ` +
      `every client had the whole burst after p95 ${fmt(report.burst_complete_p95_ms, true)}, max ${fmt(report.burst_complete_max_ms, true)}`,
  ];
  return summaryOutput('spike', data, report, lines);
}
