// reconnect-storm: CLIENTS sockets of both kinds on ONE gateway (GATEWAY_URL,
// straight to the replica, not through nginx) keep the cursor of the last frame
// they got while REST messages flow; then every client drops its socket at the
// same moment and reconnects at once with `since=<cursor>` (plain WS query
// parameter, Socket.IO auth payload {token, since}) while the messages keep
// flowing. Each client must get `resumed` (or `reload`, counted apart), and no
// message may be missing or come twice across the reconnect (ids and per-sender
// sequence numbers are tracked per client).
//
//   npm run loadtest -- reconnect-storm --k6      # own cluster; GATEWAY_URL = gateway-1
//   BASE_URL=http://localhost:8080 GATEWAY_URL=http://127.0.0.1:3100 npm run loadtest -- reconnect-storm --k6
//
// Without GATEWAY_URL (or GATEWAY_URLS) the clients go through nginx and spread
// over every gateway. See loadtest/README.md.

import exec from 'k6/execution';
import { setTimeout } from 'k6/timers';
import { Counter, Rate, Trend } from 'k6/metrics';
import { gatewayUrl, intEnv, numEnv, randomId, toWsUrl } from '../lib/config.js';
import { Receiver, warnOnce } from '../lib/receiver.js';
import { restSend } from '../lib/senders.js';
import { fmt, pct, summaryOutput } from '../lib/summary.js';
import { checkHealth, createUsers, userFor } from '../lib/users.js';

/** @typedef {import('../lib/users.js').User} User */
/** @typedef {{ runId: string, users: User[], senders: User[] }} SetupData */
/** @typedef {import('../lib/summary.js').SummaryData} SummaryData */

const CLIENTS = intEnv('CLIENTS', 200);
const WS_SHARE = Math.min(1, numEnv('WS_SHARE', 0.5));
const CLIENTS_PER_VU = Math.max(1, intEnv('CLIENTS_PER_VU', 10));
const USERS = Math.max(1, intEnv('USERS', 50));
const SENDER_USERS = Math.max(1, intEnv('SENDER_USERS', 5));
const SEND_RATE = intEnv('SEND_RATE', 20); // REST messages per second, through nginx
const CONNECT_SECONDS = intEnv('CONNECT_SECONDS', 5);
const BEFORE_SECONDS = intEnv('BEFORE_SECONDS', 10);
const AFTER_SECONDS = intEnv('AFTER_SECONDS', 10);
const RECONNECT_P95_MS = numEnv('RECONNECT_P95_MS', 10000);
const RELOAD_TOLERANCE = intEnv('RELOAD_TOLERANCE', 0);

const SETTLE_SECONDS = 2; // from the last first connect to the first message
const TAIL_SECONDS = 5; // after the last message
const SEND_AT = CONNECT_SECONDS + SETTLE_SECONDS;
const STORM_AT = SEND_AT + BEFORE_SECONDS;
const END_AT = STORM_AT + AFTER_SECONDS + TAIL_SECONDS;
const VUS = Math.ceil(CLIENTS / CLIENTS_PER_VU);
const GATEWAY = gatewayUrl();
const GATEWAY_WS = toWsUrl(GATEWAY.url);
const RUN_ID = randomId(8);

/** A reconnect that got `resumed` or `reload` in time. */
const reconnectSuccess = new Rate('chat_reconnect_success');
/** From opening the new socket to `resumed` (or `reload`). */
const reconnectTime = new Trend('chat_reconnect_time', true);
/** Reconnects answered with `reload` instead of a replay. */
const resumeReloads = new Counter('chat_resume_reloads');
/** Messages replayed before `resumed`, over every client. */
const resumeReplayed = new Counter('chat_resume_replayed');

export const options = {
  setupTimeout: '120s',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    clients: {
      executor: 'per-vu-iterations',
      exec: 'clients',
      vus: VUS,
      iterations: 1,
      maxDuration: `${END_AT + 30}s`,
    },
    sender: {
      executor: 'constant-arrival-rate',
      exec: 'sender',
      rate: SEND_RATE,
      timeUnit: '1s',
      duration: `${BEFORE_SECONDS + AFTER_SECONDS}s`,
      startTime: `${SEND_AT}s`,
      preAllocatedVUs: Math.max(5, Math.ceil(SEND_RATE / 4)),
      gracefulStop: '5s',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    chat_send_errors: ['rate<0.01'],
    chat_connect_success: ['rate>0.99'],
    chat_reconnect_success: ['rate==1'],
    chat_reconnect_time: [`p(95)<${RECONNECT_P95_MS}`],
    chat_resume_reloads: [`count<=${RELOAD_TOLERANCE}`],
    chat_messages_lost: ['count<1'],
    chat_messages_duplicated: ['count<1'],
    chat_messages_sent: ['count>0'],
    'chat_reconnect_time{kind:ws}': ['p(95)>=0'],
    'chat_reconnect_time{kind:socket.io}': ['p(95)>=0'],
  },
};

/** @returns {SetupData} */
export function setup() {
  checkHealth();
  if (!GATEWAY.direct) console.warn('reconnect-storm: no GATEWAY_URL; clients go through nginx and spread over every gateway');
  return { runId: RUN_ID, users: createUsers(RUN_ID, 'u', USERS), senders: createUsers(RUN_ID, 's', SENDER_USERS) };
}

/** @param {number} n */
const kindOf = (n) => (Math.floor((n + 1) * WS_SHARE) > Math.floor(n * WS_SHARE) ? 'ws' : 'socket.io');

/** @param {SetupData} data */
export function clients(data) {
  const vuIndex = exec.scenario.iterationInTest; // one iteration per VU
  const start = exec.scenario.startTime;
  /** @type {Receiver[]} */
  const receivers = [];
  for (let j = 0; j < CLIENTS_PER_VU; j++) {
    const n = j * VUS + vuIndex;
    if (n >= CLIENTS) break;
    const kind = kindOf(n);
    const receiver = new Receiver({
      kind,
      wsBase: GATEWAY_WS,
      token: userFor(data.users, n).token,
      runId: data.runId,
      clientId: `k6-${data.runId}-${n}`,
      name: `client ${n}`,
      onResume: ({ outcome, ms, replayed }) => {
        reconnectSuccess.add(outcome !== 'failed', { kind });
        if (outcome !== 'failed') reconnectTime.add(ms, { kind, outcome });
        if (outcome === 'reload') resumeReloads.add(1, { kind });
        if (outcome === 'resumed') resumeReplayed.add(replayed, { kind });
      },
    });
    receivers.push(receiver);
    setTimeout(() => receiver.open(), Math.max(0, start + (n / CLIENTS) * CONNECT_SECONDS * 1000 - Date.now()));
  }
  // The storm: every client of this VU drops its socket and resumes on a new one,
  // at the same wall-clock moment as every other VU.
  setTimeout(
    () => {
      for (const receiver of receivers) {
        if (receiver.cursor === undefined) {
          warnOnce(`${receiver.kind} client: no cursor to resume from`);
          reconnectSuccess.add(false, { kind: receiver.kind });
          continue;
        }
        receiver.open(receiver.cursor);
      }
    },
    Math.max(0, start + STORM_AT * 1000 - Date.now()),
  );
  setTimeout(
    () => {
      for (const receiver of receivers) receiver.finish();
    },
    Math.max(0, start + END_AT * 1000 - Date.now()),
  );
}

/** @param {SetupData} data */
export function sender(data) {
  restSend(data.runId, userFor(data.senders, exec.vu.idInTest), `r${exec.vu.idInTest}`);
}

/** @param {SummaryData} data */
export function handleSummary(data) {
  /** @param {string} name @param {string} value */
  const v = (name, value) => data.metrics[name]?.values[value];
  const sent = v('chat_messages_sent', 'count') ?? 0;
  const received = v('chat_messages_received', 'count') ?? 0;
  const report = {
    settings: {
      clients: CLIENTS,
      ws_share: WS_SHARE,
      gateway: GATEWAY.url,
      direct: GATEWAY.direct,
      users: USERS,
      send_rate: SEND_RATE,
      storm_at_seconds: STORM_AT,
      before_seconds: BEFORE_SECONDS,
      after_seconds: AFTER_SECONDS,
    },
    connected: v('chat_connect_success', 'passes') ?? 0,
    reconnects_ok: v('chat_reconnect_success', 'passes') ?? 0,
    reconnects_failed: v('chat_reconnect_success', 'fails') ?? 0,
    reloads: v('chat_resume_reloads', 'count') ?? 0,
    replayed: v('chat_resume_replayed', 'count') ?? 0,
    reconnect_p95_ms: v('chat_reconnect_time', 'p(95)'),
    reconnect_max_ms: v('chat_reconnect_time', 'max'),
    sent,
    deliveries_expected: sent * CLIENTS,
    deliveries: received,
    lost: v('chat_messages_lost', 'count') ?? 0,
    duplicated: v('chat_messages_duplicated', 'count') ?? 0,
  };
  const lines = [
    `  RECONNECT STORM on ${GATEWAY.url}${GATEWAY.direct ? '' : ' (nginx: no GATEWAY_URL)'}: ${report.connected} of ${CLIENTS} clients connected; ` +
      `at ${STORM_AT} s all reconnected with since: ${report.reconnects_ok} resumed or reloaded (${report.reloads} reload), ${report.reconnects_failed} failed; ` +
      `reconnect-to-resumed p95 ${fmt(report.reconnect_p95_ms, true)}, max ${fmt(report.reconnect_max_ms, true)}; ${report.replayed} messages replayed`,
    `  DELIVERY: ${sent} messages sent, ${received} of ${sent * CLIENTS} deliveries (${pct(sent ? received / (sent * CLIENTS) : 0)}); ` +
      `lost ${report.lost}, duplicated ${report.duplicated}`,
  ];
  return summaryOutput('reconnect-storm', data, report, lines);
}
