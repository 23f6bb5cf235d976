// k6 smoke test of the whole cluster through nginx: REST in, both socket kinds out.
// For users with their own k6 (the project does not install it); CI runs the same
// smoke on the project's Node load driver (loadtest/node/smoke.ts).
//
//   npm run loadtest:smoke -- --k6              # own cluster, k6 from PATH or K6_BIN
//   k6 run loadtest/smoke.js                    # against http://localhost:8080
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
// Written for k6 v1.x (last run with v1.8.1): `k6/websockets` is the
// stable, browser-like WebSocket module (it replaced k6/experimental/websockets).
// The protocol clients, user setup and message helpers are shared with the load
// scenarios (loadtest/lib/).

import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { setTimeout } from 'k6/timers';
import { BASE_URL, WS_URL, intEnv, randomId } from './lib/config.js';
import { deliveryLatency, messagesSent, sioReceived, wsReceived } from './lib/metrics.js';
import { deliveryLatencyMs, isOurs, marker, messageShapeOk } from './lib/messages.js';
import { connectChat } from './lib/sockets.js';
import { checkHealth, createUser, jsonParams, userFor } from './lib/users.js';

// Type-checked from JSDoc against @types/k6 (loadtest/tsconfig.json, part of
// `npm run typecheck`).

/**
 * What setup() returns; k6 hands a copy to every scenario function.
 * @typedef {import('./lib/users.js').User} SmokeUser
 * @typedef {{ runId: string, senders: SmokeUser[], wsUsers: SmokeUser[], sioUsers: SmokeUser[] }} SetupData
 */
/** @typedef {import('./lib/messages.js').RunMessage} RunMessage */
/** @typedef {import('k6/metrics').Counter} Counter */

// ---- configuration (environment variables: k6 run -e NAME=value or the shell env) ----

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
    // Generous for a smoke run on a laptop; the load scenarios (loadtest/scenarios/) set their own.
    chat_delivery_latency: ['p(95)<2000'],
  },
};

// ---- setup: users over REST --------------------------------------------------------------

/** @returns {SetupData} */
export function setup() {
  checkHealth();

  /** @param {string} role @param {number} n */
  const make = (role, n) => Array.from({ length: n }, (_, i) => createUser(RUN_ID, role, i));
  return {
    runId: RUN_ID,
    senders: make('s', SENDERS),
    wsUsers: make('w', WS_CLIENTS),
    sioUsers: make('i', SIO_CLIENTS),
  };
}

// ---- shared helpers ------------------------------------------------------------------------

/**
 * Counts a delivery; its latency is from `created_at`, since smoke messages carry
 * no send time.
 * @param {RunMessage} message
 * @param {Counter} counter
 * @param {string} kind
 */
function recordDelivery(message, counter, kind) {
  counter.add(1);
  const latency = deliveryLatencyMs(message, null);
  if (latency !== undefined) deliveryLatency.add(latency, { kind });
}

// ---- scenario: REST sender -------------------------------------------------------------------

/** @param {SetupData} data */
export function restSender(data) {
  const user = userFor(data.senders, exec.vu.idInTest);
  const content = `${marker(data.runId)} from ${user.username} #${exec.vu.iterationInScenario}`;
  const res = http.post(`${BASE_URL}/api/messages`, JSON.stringify({ content }), jsonParams(user.token, 'POST /api/messages'));
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
  let connected = false;
  let received = 0;
  let badShape = 0;

  const socket = connectChat('ws', {
    wsBase: WS_URL,
    token: user.token,
    handlers: {
      onConnected: () => {
        connected = true;
      },
      onMessage: (event, message) => {
        if (event !== 'message' || !isOurs(data.runId, message)) return;
        if (!messageShapeOk(message)) badShape++;
        received++;
        recordDelivery(message, wsReceived, 'ws');
      },
      onServerError: (frame) => console.warn(`ws ${user.username}: server error frame: ${frame.error}`),
      onBadFrame: () => {
        badShape++;
      },
      onSocketError: (error) => console.warn(`ws ${user.username}: ${error}`),
      onClose: () => {
        check(null, {
          'ws: connection frame received': () => connected,
          'ws: received messages': () => received > 0,
          'ws: frames well-formed': () => badShape === 0,
        });
      },
    },
  });

  setTimeout(() => socket.close(), LISTEN_MS);
}

// ---- scenario: Socket.IO client over raw WebSocket ---------------------------------------------

/** @param {SetupData} data */
export function socketIoClient(data) {
  const user = userFor(data.sioUsers, exec.scenario.iterationInTest);
  let opened = false;
  let connected = false;
  /** @type {string | null} */
  let connectError = null;
  let received = 0;
  let badShape = 0;

  const socket = connectChat('socket.io', {
    wsBase: WS_URL,
    token: user.token,
    // client_id: nginx hashes it to pick the gateway, so clients from one machine
    // spread over the gateways (see nginx.conf / deploy/README.md).
    clientId: `k6-${data.runId}-${exec.vu.idInTest}`,
    handlers: {
      onEngineOpen: () => {
        opened = true;
      },
      onConnected: () => {
        connected = true;
      },
      onConnectError: (error) => {
        connectError = error;
        console.warn(`sio ${user.username}: connect_error ${connectError}`);
      },
      onMessage: (event, message) => {
        if (event !== 'message' || !isOurs(data.runId, message)) return;
        if (!messageShapeOk(message)) badShape++;
        received++;
        recordDelivery(message, sioReceived, 'socket.io');
      },
      onBadFrame: () => {
        badShape++;
      },
      onSocketError: (error) => console.warn(`sio ${user.username}: ${error}`),
      onClose: () => {
        check(null, {
          'sio: engine.io open received': () => opened,
          'sio: namespace connected': () => connected && connectError === null,
          'sio: received messages': () => received > 0,
          'sio: packets well-formed': () => badShape === 0,
        });
      },
    },
  });

  setTimeout(() => socket.close(), LISTEN_MS);
}
