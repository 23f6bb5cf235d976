// soak: steady mixed load for DURATION_SECONDS (default 10 minutes): REST global,
// room and direct messages, plain-WS senders (global) and Socket.IO senders (room),
// while plain-WS and Socket.IO listeners, all members of the room and each the
// recipient of some direct messages, count what they get. Not in CI.
//
//   npm run loadtest -- soak --k6                     # own cluster, 10 minutes
//   DURATION_SECONDS=60 npm run loadtest -- soak --k6
//   k6 run -e BASE_URL=http://localhost:8080 loadtest/scenarios/soak.js
//
// See loadtest/README.md.

import exec from 'k6/execution';
import { check } from 'k6';
import { setTimeout } from 'k6/timers';
import { WS_URL, intEnv, numEnv, randomId } from '../lib/config.js';
import { Receiver } from '../lib/receiver.js';
import { restSend, socketSender } from '../lib/senders.js';
import { fmt, pct, summaryOutput } from '../lib/summary.js';
import { checkHealth, createRoom, createUsers, userFor } from '../lib/users.js';

/** @typedef {import('../lib/users.js').User} User */
/** @typedef {{ runId: string, roomId: string, senders: User[], socketSenders: User[], wsListeners: User[], sioListeners: User[] }} SetupData */
/** @typedef {import('../lib/summary.js').SummaryData} SummaryData */

const DURATION_SECONDS = intEnv('DURATION_SECONDS', 600);
const GLOBAL_RATE = numEnv('GLOBAL_RATE', 10); // REST global messages per second
const ROOM_RATE = numEnv('ROOM_RATE', 2); // REST room messages per second
const DM_RATE = numEnv('DM_RATE', 2); // REST direct messages per second
const WS_LISTENERS = intEnv('WS_LISTENERS', 5);
const SIO_LISTENERS = intEnv('SIO_LISTENERS', 5);
const WS_SENDERS = intEnv('WS_SENDERS', 2); // global messages
const SIO_SENDERS = intEnv('SIO_SENDERS', 2); // room messages
const SOCKET_SEND_RATE = numEnv('SOCKET_SEND_RATE', 1); // per socket sender
const SENDER_USERS = Math.max(1, intEnv('SENDER_USERS', 5));
const DELIVERY_P99_MS = numEnv('DELIVERY_P99_MS', 2000);

const LEAD_SECONDS = 3;
const TAIL_SECONDS = 5;
const LISTENERS = WS_LISTENERS + SIO_LISTENERS;
const RUN_ID = randomId(8);

const listenSeconds = LEAD_SECONDS + DURATION_SECONDS + TAIL_SECONDS;
/** @type {Record<string, any>} */
const scenarios = {};
/** @param {string} name @param {string} fn @param {number} rate */
const rest = (name, fn, rate) => {
  if (rate <= 0) return;
  scenarios[name] = {
    executor: 'constant-arrival-rate',
    exec: fn,
    // Whole messages per timeUnit: 0.5/s is 1 per 2 s.
    rate: Number.isInteger(rate) ? rate : Math.round(rate * 100),
    timeUnit: Number.isInteger(rate) ? '1s' : '100s',
    duration: `${DURATION_SECONDS}s`,
    startTime: `${LEAD_SECONDS}s`,
    preAllocatedVUs: Math.max(2, Math.ceil(rate / 2)),
    maxVUs: Math.max(10, Math.ceil(rate * 2)),
    gracefulStop: '5s',
  };
};
rest('rest_global', 'restGlobal', GLOBAL_RATE);
rest('rest_room', 'restRoom', ROOM_RATE);
rest('rest_dm', 'restDirect', DM_RATE);
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
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    chat_send_errors: ['rate<0.01'],
    chat_connect_success: ['rate==1'],
    chat_delivery_latency: [`p(99)<${DELIVERY_P99_MS}`],
    chat_messages_lost: ['count<1'],
    chat_messages_duplicated: ['count<1'],
    'chat_messages_received{kind:ws}': ['count>0'],
    'chat_messages_received{kind:socket.io}': ['count>0'],
    // Kept for handleSummary(): what each audience was sent.
    'chat_messages_sent{audience:global}': ['count>=0'],
    'chat_messages_sent{audience:room}': ['count>=0'],
    'chat_messages_sent{audience:dm}': ['count>=0'],
  },
};

/** @returns {SetupData} */
export function setup() {
  checkHealth();
  const senders = createUsers(RUN_ID, 's', SENDER_USERS);
  const socketSenders = createUsers(RUN_ID, 'k', WS_SENDERS + SIO_SENDERS);
  const wsListeners = createUsers(RUN_ID, 'w', WS_LISTENERS);
  const sioListeners = createUsers(RUN_ID, 'i', SIO_LISTENERS);
  const owner = /** @type {User} */ (senders[0]);
  // Every sender and listener is a member; sockets join their rooms when they connect.
  const roomId = createRoom(owner, `k6 soak ${RUN_ID}`, [...senders, ...socketSenders, ...wsListeners, ...sioListeners]);
  return { runId: RUN_ID, roomId, senders, socketSenders, wsListeners, sioListeners };
}

/** @param {SetupData} data */
const restUser = (data) => userFor(data.senders, exec.vu.idInTest);

/** @param {SetupData} data */
export function restGlobal(data) {
  restSend(data.runId, restUser(data), `g${exec.vu.idInTest}`, { tags: { audience: 'global' } });
}

/** @param {SetupData} data */
export function restRoom(data) {
  restSend(data.runId, restUser(data), `m${exec.vu.idInTest}`, { audience: { room_id: data.roomId }, tags: { audience: 'room' } });
}

/** @param {SetupData} data */
export function restDirect(data) {
  const listeners = [...data.wsListeners, ...data.sioListeners];
  const index = exec.scenario.iterationInTest % listeners.length;
  const recipient = userFor(listeners, index);
  // One stream per sender and recipient: each recipient sees its own without gaps.
  restSend(data.runId, restUser(data), `d${exec.vu.idInTest}x${index}`, { audience: { recipient: recipient.username }, tags: { audience: 'dm' } });
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
  /** @type {Record<string, number>} */
  const byEvent = { message: 0, direct_message: 0 };
  receiver.options.onOurs = (_message, _tag, event) => {
    byEvent[event] = (byEvent[event] ?? 0) + 1;
  };
  receiver.open();
  setTimeout(() => {
    check(null, {
      [`${kind} listener: connected`]: () => receiver.everConnected,
      [`${kind} listener: received global and room messages`]: () => (byEvent.message ?? 0) > 0,
      [`${kind} listener: received direct messages`]: () => DM_RATE === 0 || (byEvent.direct_message ?? 0) > 0,
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

/** @param {SetupData} data */
export function wsSender(data) {
  socketSender({
    kind: 'ws',
    wsBase: WS_URL,
    runId: data.runId,
    user: userFor(data.socketSenders, exec.scenario.iterationInTest),
    stream: `w${exec.vu.idInTest}`,
    rate: SOCKET_SEND_RATE,
    durationMs: DURATION_SECONDS * 1000,
    tags: { audience: 'global' },
  });
}

/** @param {SetupData} data */
export function sioSender(data) {
  socketSender({
    kind: 'socket.io',
    wsBase: WS_URL,
    runId: data.runId,
    user: userFor(data.socketSenders, WS_SENDERS + exec.scenario.iterationInTest),
    stream: `i${exec.vu.idInTest}`,
    rate: SOCKET_SEND_RATE,
    durationMs: DURATION_SECONDS * 1000,
    clientId: `k6-${data.runId}-s${exec.vu.idInTest}`,
    audience: () => ({ room_id: data.roomId }),
    tags: { audience: 'room' },
  });
}

/** @param {SummaryData} data */
export function handleSummary(data) {
  /** @param {string} name @param {string} value */
  const v = (name, value) => data.metrics[name]?.values[value];
  const sentGlobal = v('chat_messages_sent{audience:global}', 'count') ?? 0;
  const sentRoom = v('chat_messages_sent{audience:room}', 'count') ?? 0;
  const sentDm = v('chat_messages_sent{audience:dm}', 'count') ?? 0;
  const expected = (sentGlobal + sentRoom) * LISTENERS + sentDm;
  const received = v('chat_messages_received', 'count') ?? 0;
  const report = {
    settings: {
      duration_seconds: DURATION_SECONDS,
      global_rate: GLOBAL_RATE,
      room_rate: ROOM_RATE,
      dm_rate: DM_RATE,
      ws_senders: WS_SENDERS,
      sio_senders: SIO_SENDERS,
      socket_send_rate: SOCKET_SEND_RATE,
      ws_listeners: WS_LISTENERS,
      sio_listeners: SIO_LISTENERS,
    },
    sent: { global: sentGlobal, room: sentRoom, dm: sentDm },
    deliveries_expected: expected,
    deliveries: received,
    lost: v('chat_messages_lost', 'count') ?? 0,
    duplicated: v('chat_messages_duplicated', 'count') ?? 0,
    delivery_p95_ms: v('chat_delivery_latency', 'p(95)'),
    delivery_p99_ms: v('chat_delivery_latency', 'p(99)'),
    delivery_max_ms: v('chat_delivery_latency', 'max'),
    send_p99_ms: v('chat_send_latency', 'p(99)'),
  };
  const lines = [
    `  SOAK ${DURATION_SECONDS} s: sent ${sentGlobal} global, ${sentRoom} room, ${sentDm} direct; ` +
      `${received} of ${expected} deliveries (${pct(expected ? received / expected : 0)}), lost ${report.lost}, duplicated ${report.duplicated}; ` +
      `delivery p95 ${fmt(report.delivery_p95_ms, true)}, p99 ${fmt(report.delivery_p99_ms, true)}, max ${fmt(report.delivery_max_ms, true)}; send p99 ${fmt(report.send_p99_ms, true)}`,
  ];
  return summaryOutput('soak', data, report, lines);
}
