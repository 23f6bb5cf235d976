// k6 smoke test of the whole cluster through nginx: REST in, both socket kinds out.
//
//   scripts/install-k6.sh                       # builds/prints the pinned k6
//   $(scripts/install-k6.sh) run loadtest/smoke.js
//   BASE_URL=http://localhost:8080 DURATION_SECONDS=10 k6 run loadtest/smoke.js
//
// What runs (see loadtest/README.md):
//   setup()     registers and logs in one user per virtual user over REST
//   rest_sender POSTs global messages to /api/messages for DURATION_SECONDS
//   ws_client   plain WebSocket on /api/ws/connect?token=..., counts {"type":"message"}
//   sio_client  Socket.IO spoken by hand (Engine.IO v4 over WebSocket), counts
//               42["message",{...}]
// The listeners connect first and stay until the senders are done, so every client
// must see messages; thresholds fail the run otherwise.
//
// Written for k6 v1.x (pinned in scripts/install-k6.sh): `k6/websockets` is the
// stable, browser-like WebSocket module (it replaced k6/experimental/websockets).

import http from 'k6/http';
import exec from 'k6/execution';
import { check, fail, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { WebSocket } from 'k6/websockets';
import { setTimeout } from 'k6/timers';

// Type-checked from JSDoc against @types/k6 (loadtest/tsconfig.json, part of
// `npm run typecheck`).

/**
 * A user created in setup(), as every VU receives it.
 * @typedef {{ username: string, token: string }} SmokeUser
 */
/**
 * What setup() returns; k6 hands a copy to every scenario function.
 * @typedef {{ runId: string, senders: SmokeUser[], wsUsers: SmokeUser[], sioUsers: SmokeUser[] }} SetupData
 */
/**
 * A message of this run, as far as isOurs() has checked it; messageShapeOk() checks the rest.
 * @typedef {{ content: string, [field: string]: unknown }} RunMessage
 */

// ---- configuration (environment variables: k6 run -e NAME=value or the shell env) ----

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:8080').replace(/\/+$/, '');
const WS_URL = BASE_URL.replace(/^http/, 'ws'); // http -> ws, https -> wss
const DURATION_SECONDS = intEnv('DURATION_SECONDS', 10);
const SENDERS = intEnv('SENDERS', 2);
const WS_CLIENTS = intEnv('WS_CLIENTS', 2);
const SIO_CLIENTS = intEnv('SIO_CLIENTS', 2);
const SEND_INTERVAL_SECONDS = Number(__ENV.SEND_INTERVAL_SECONDS || 0.5);

// Listeners connect LEAD seconds before the senders start and stay TAIL seconds after
// they stop, so the last messages still arrive while they listen.
const LEAD_SECONDS = 2;
const TAIL_SECONDS = 3;
const LISTEN_MS = (LEAD_SECONDS + DURATION_SECONDS + TAIL_SECONDS) * 1000;

// Unique per run: user names never collide with an earlier run, and listeners count
// only this run's messages even if other traffic shares the cluster. Init code runs
// once per VU, so each VU draws its own value here: only the one setup() returns
// (data.runId) is shared by all of them.
const RUN_ID = randomId(8);
const PASSWORD = 'k6-smoke-password';

/**
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
function intEnv(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`);
  return n;
}

/** @param {number} length */
function randomId(length) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

// ---- metrics ----------------------------------------------------------------------------

const messagesSent = new Counter('chat_messages_sent');
const wsReceived = new Counter('chat_ws_messages_received');
const sioReceived = new Counter('chat_sio_messages_received');
// created_at (stamped by the API when the row is stored) -> frame handled here.
// Same machine, same clock; a remote cluster adds its clock skew to this number.
const deliveryLatency = new Trend('chat_delivery_latency', true);

export const options = {
  setupTimeout: '60s',
  scenarios: {
    ws_client: {
      executor: 'per-vu-iterations',
      exec: 'wsClient',
      vus: WS_CLIENTS,
      iterations: 1,
      maxDuration: `${LEAD_SECONDS + DURATION_SECONDS + TAIL_SECONDS + 30}s`,
    },
    sio_client: {
      executor: 'per-vu-iterations',
      exec: 'socketIoClient',
      vus: SIO_CLIENTS,
      iterations: 1,
      maxDuration: `${LEAD_SECONDS + DURATION_SECONDS + TAIL_SECONDS + 30}s`,
    },
    rest_sender: {
      executor: 'constant-vus',
      exec: 'restSender',
      vus: SENDERS,
      duration: `${DURATION_SECONDS}s`,
      startTime: `${LEAD_SECONDS}s`,
      gracefulStop: '5s',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    chat_messages_sent: ['count>0'],
    chat_ws_messages_received: ['count>0'],
    chat_sio_messages_received: ['count>0'],
    // Generous for a smoke run on a laptop; a real benchmark sets its own.
    chat_delivery_latency: ['p(95)<2000'],
  },
};

// ---- setup: users over REST --------------------------------------------------------------

/**
 * @param {string | null} token
 * @param {string} name the request's `name` tag
 */
function jsonParams(token, name) {
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  return { headers, tags: { name } };
}

/**
 * @param {string} role
 * @param {number} index
 * @returns {SmokeUser}
 */
function createUser(role, index) {
  // USERNAME_PATTERN: 3-32 of [A-Za-z0-9_.-], not starting with . or -
  const username = `k6_${RUN_ID}_${role}${index}`;
  const register = http.post(
    `${BASE_URL}/api/auth/register`,
    JSON.stringify({ username, email: `${username}@example.test`, password: PASSWORD }),
    jsonParams(null, 'POST /api/auth/register'),
  );
  if (register.status !== 201) fail(`register ${username}: HTTP ${register.status} ${register.body}`);

  const login = http.post(
    `${BASE_URL}/api/auth/login`,
    JSON.stringify({ username, password: PASSWORD }),
    jsonParams(null, 'POST /api/auth/login'),
  );
  const token = login.status === 200 ? login.json('token') : undefined;
  if (typeof token !== 'string' || !token) fail(`login ${username}: HTTP ${login.status} ${login.body}`);
  return { username, token };
}

/** @returns {SetupData} */
export function setup() {
  const health = http.get(`${BASE_URL}/health`, { tags: { name: 'GET /health' } });
  if (health.status !== 200) fail(`${BASE_URL}/health answered ${health.status}: is the cluster up?`);

  /** @param {string} role @param {number} n */
  const make = (role, n) => Array.from({ length: n }, (_, i) => createUser(role, i));
  return {
    runId: RUN_ID,
    senders: make('s', SENDERS),
    wsUsers: make('w', WS_CLIENTS),
    sioUsers: make('i', SIO_CLIENTS),
  };
}

// ---- shared helpers ------------------------------------------------------------------------

/** @param {SetupData} data */
const marker = (data) => `[k6 ${data.runId}]`;

/**
 * A message of this run (its content starts with the run's marker).
 * @param {SetupData} data
 * @param {unknown} message
 * @returns {message is RunMessage}
 */
function isOurs(data, message) {
  return (
    message !== null &&
    typeof message === 'object' &&
    'content' in message &&
    typeof message.content === 'string' &&
    message.content.startsWith(marker(data))
  );
}

/**
 * @param {RunMessage} message
 * @param {Counter} counter
 * @param {string} kind
 */
function recordDelivery(message, counter, kind) {
  counter.add(1);
  const created = Date.parse(String(message.created_at));
  if (!Number.isNaN(created)) deliveryLatency.add(Math.max(0, Date.now() - created), { kind });
}

/** @param {RunMessage} message */
function messageShapeOk(message) {
  return ['id', 'sender', 'content', 'created_at'].every((k) => typeof message[k] === 'string') &&
    'recipient' in message && 'room_id' in message;
}

/**
 * The user at `index` (wrapping around), so each VU of a scenario has its own.
 * @param {SmokeUser[]} list
 * @param {number} index
 * @returns {SmokeUser}
 */
function userFor(list, index) {
  if (list.length === 0) fail('no users for this scenario');
  return /** @type {SmokeUser} */ (list[index % list.length]);
}

// ---- scenario: REST sender -------------------------------------------------------------------

/** @param {SetupData} data */
export function restSender(data) {
  const user = userFor(data.senders, exec.vu.idInTest);
  const content = `${marker(data)} from ${user.username} #${exec.vu.iterationInScenario}`;
  const res = http.post(
    `${BASE_URL}/api/messages`,
    JSON.stringify({ content }),
    jsonParams(user.token, 'POST /api/messages'),
  );
  const ok = check(res, {
    'message stored (201)': (r) => r.status === 201,
    'stored message echoes content': (r) => r.status === 201 && r.json('content') === content,
  });
  if (ok) messagesSent.add(1);
  sleep(SEND_INTERVAL_SECONDS);
}

// ---- scenario: plain WebSocket client ----------------------------------------------------------

/** @param {SetupData} data */
export function wsClient(data) {
  const user = userFor(data.wsUsers, exec.scenario.iterationInTest); // one iteration per VU: 0..n-1
  const ws = new WebSocket(`${WS_URL}/api/ws/connect?token=${encodeURIComponent(user.token)}`);
  let connected = false;
  let received = 0;
  let badShape = 0;

  ws.onmessage = (event) => {
    if (!event) return; // always there; @types/k6 marks it optional
    let frame;
    try {
      frame = JSON.parse(String(event.data)); // text frames; JSON.parse would stringify anything else the same way
    } catch {
      badShape++;
      return;
    }
    if (frame.type === 'connection' && frame.status === 'connected') {
      connected = true;
    } else if (frame.type === 'message' && isOurs(data, frame.message)) {
      if (!messageShapeOk(frame.message)) badShape++;
      received++;
      recordDelivery(frame.message, wsReceived, 'ws');
    } else if (frame.type === 'error') {
      console.warn(`ws ${user.username}: server error frame: ${frame.error}`);
    }
  };
  ws.onerror = (e) => console.warn(`ws ${user.username}: ${e?.error}`);
  ws.onclose = () => {
    check(null, {
      'ws: connection frame received': () => connected,
      'ws: received messages': () => received > 0,
      'ws: frames well-formed': () => badShape === 0,
    });
  };

  setTimeout(() => ws.close(), LISTEN_MS);
}

// ---- scenario: Socket.IO client over raw WebSocket ---------------------------------------------
//
// Engine.IO v4 packets (one per WebSocket frame): 0 open, 1 close, 2 ping, 3 pong,
// 4 message. A Socket.IO packet rides inside an Engine.IO message: 0 CONNECT,
// 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR; the default namespace "/" is
// omitted. So "40{...}" connects with an auth payload, "42[...]" is an event, and
// the server's "2" ping must be answered with "3" within pingTimeout.

/** @param {SetupData} data */
export function socketIoClient(data) {
  const user = userFor(data.sioUsers, exec.scenario.iterationInTest);
  // client_id: nginx hashes it to pick the gateway, so clients from one machine
  // spread over the gateways (see nginx.conf / deploy/README.md).
  const clientId = `k6-${data.runId}-${exec.vu.idInTest}`;
  const ws = new WebSocket(`${WS_URL}/socket.io/?EIO=4&transport=websocket&client_id=${clientId}`);
  let opened = false;
  let connected = false;
  /** @type {string | null} */
  let connectError = null;
  let received = 0;
  let badShape = 0;

  ws.onmessage = (event) => {
    if (!event) return; // always there; @types/k6 marks it optional
    const packet = String(event.data);
    switch (packet[0]) {
      case '0': // Engine.IO open: {"sid","pingInterval","pingTimeout",...}
        opened = true;
        ws.send(`40${JSON.stringify({ token: user.token })}`);
        return;
      case '2': // ping
        ws.send('3');
        return;
      case '4':
        break;
      default:
        return; // 1 close, 6 noop, ...
    }
    const kind = packet[1];
    if (kind === '0') {
      connected = true; // 40{"sid":"..."}
    } else if (kind === '4') {
      connectError = packet.slice(2);
      console.warn(`sio ${user.username}: connect_error ${connectError}`);
    } else if (kind === '2') {
      // 42[<event>, <arg>...], possibly with an ack id: 42<id>[...]
      const match = /^42\d*(\[[\s\S]*\])$/.exec(packet);
      if (!match) {
        badShape++;
        return;
      }
      let args;
      try {
        args = JSON.parse(match[1] ?? '');
      } catch {
        badShape++;
        return;
      }
      if (args[0] === 'message' && isOurs(data, args[1])) {
        if (!messageShapeOk(args[1])) badShape++;
        received++;
        recordDelivery(args[1], sioReceived, 'socket.io');
      }
    }
  };
  ws.onerror = (e) => console.warn(`sio ${user.username}: ${e?.error}`);
  ws.onclose = () => {
    check(null, {
      'sio: engine.io open received': () => opened,
      'sio: namespace connected': () => connected && connectError === null,
      'sio: received messages': () => received > 0,
      'sio: packets well-formed': () => badShape === 0,
    });
  };

  setTimeout(() => {
    if (ws.readyState === 1) ws.send('41'); // Socket.IO DISCONNECT, then close
    ws.close();
  }, LISTEN_MS);
}
