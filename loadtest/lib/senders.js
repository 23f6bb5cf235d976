// Senders for the load scenarios: REST (one POST per call) and long-lived socket
// senders of either kind (plain WS frames with a client_msg_id, acknowledged; or
// Socket.IO emits with an ack id). Each numbers its messages per stream
// (Sequences, messages.js) so receivers can count what they lack.

import http from 'k6/http';
import { check } from 'k6';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { BASE_URL } from './config.js';
import { Sequences, tagContent } from './messages.js';
import { messagesSent, sendErrors, sendLatency, sendsSkipped } from './metrics.js';
import { warnOnce } from './receiver.js';
import { connectChat } from './sockets.js';
import { jsonParams } from './users.js';

/** @typedef {import('./users.js').User} User */
/** @typedef {import('./sockets.js').SocketKind} SocketKind */
/** @typedef {{ recipient?: string, room_id?: string }} Audience */

/** This VU's sequence numbers (module state: one per VU). */
const sequences = new Sequences();

/**
 * @param {string} kind
 * @param {number | undefined} stage
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
const tagsOf = (kind, stage, extra) => (stage === undefined ? { kind, ...extra } : { kind, stage: String(stage), ...extra });

/**
 * POSTs one message of stream `stream` (global, or to `audience`) and records
 * chat_send_latency, chat_send_errors and chat_messages_sent.
 * @param {string} runId
 * @param {User} user
 * @param {string} stream
 * @param {{ audience?: Audience, stage?: number, seq?: number, tags?: Record<string, string> }} [options] `seq`: this number instead of the VU's next one for the stream; `tags`: added to the metrics' tags
 * @returns {boolean} stored
 */
export function restSend(runId, user, stream, options = {}) {
  const seq = options.seq ?? sequences.next(stream);
  const content = tagContent(runId, stream, seq, options.stage);
  const res = http.post(`${BASE_URL}/api/messages`, JSON.stringify({ content, ...options.audience }), jsonParams(user.token, 'POST /api/messages'));
  const ok = check(res, { 'message stored (201)': (r) => r.status === 201 });
  const tags = tagsOf('rest', options.stage, options.tags);
  sendLatency.add(res.timings.duration, tags);
  sendErrors.add(!ok, tags);
  if (ok) {
    messagesSent.add(1, tags);
    sequences.commit(stream);
  } else {
    warnOnce(`rest ${user.username}: HTTP ${res.status} ${String(res.body).slice(0, 200)}`);
  }
  return ok;
}

/**
 * @typedef {object} SocketSenderOptions
 * @property {SocketKind} kind
 * @property {string} wsBase
 * @property {string} runId
 * @property {User} user
 * @property {string} stream
 * @property {number} rate messages per second
 * @property {number} durationMs how long to send, from when the socket is connected
 * @property {string} [clientId]
 * @property {() => Audience | undefined} [audience] per message; global when undefined
 * @property {() => number | undefined} [stage] the `stage` tag per message
 * @property {number} [ackTimeoutMs] default 10000
 * @property {Record<string, string>} [tags] added to the metrics' tags
 */

/**
 * Connects and sends `rate` messages per second, one in flight at a time (a tick
 * that finds the previous send unacknowledged is skipped and counted in
 * chat_socket_sends_skipped), then closes once the last ack is in.
 * @param {SocketSenderOptions} o
 */
export function socketSender(o) {
  const ackTimeoutMs = o.ackTimeoutMs ?? 10_000;
  let inFlight = false;
  let connected = false;
  let stopped = false;
  /** @type {number | undefined} */
  let interval;

  const finish = () => {
    if (interval !== undefined) clearInterval(interval);
    interval = undefined;
    socket.close();
  };

  const tick = () => {
    if (stopped) return;
    if (inFlight) {
      sendsSkipped.add(1, { kind: o.kind });
      return;
    }
    const stage = o.stage?.();
    const tags = tagsOf(o.kind, stage, o.tags);
    const seq = sequences.next(o.stream);
    const body = { content: tagContent(o.runId, o.stream, seq, stage), ...o.audience?.() };
    const sentAt = Date.now();
    inFlight = true;
    const sent = socket.send(
      body,
      (ok, result) => {
        inFlight = false;
        sendLatency.add(Date.now() - sentAt, tags);
        sendErrors.add(!ok, tags);
        if (ok) {
          messagesSent.add(1, tags);
          sequences.commit(o.stream);
        } else {
          const error = /** @type {{ code?: string, error?: string }} */ (result ?? {});
          warnOnce(`${o.kind} sender ${o.user.username}: ${error.code}: ${error.error}`);
        }
        if (stopped) finish();
      },
      ackTimeoutMs,
    );
    if (!sent) {
      inFlight = false;
      sendErrors.add(true, tags);
    }
  };

  const socket = connectChat(o.kind, {
    wsBase: o.wsBase,
    token: o.user.token,
    clientId: o.clientId,
    handlers: {
      onConnected: () => {
        if (connected) return;
        connected = true;
        interval = Number(setInterval(tick, 1000 / o.rate));
        setTimeout(() => {
          stopped = true;
          if (!inFlight) finish();
        }, o.durationMs);
      },
      onConnectError: (data) => warnOnce(`${o.kind} sender ${o.user.username}: connect_error ${data}`),
      onSocketError: (error) => warnOnce(`${o.kind} sender ${o.user.username}: ${error}`),
      onClose: () => {
        stopped = true;
        if (interval !== undefined) clearInterval(interval);
      },
    },
  });
  // Never connected: give up when the sending time is over.
  setTimeout(() => {
    if (!connected) {
      warnOnce(`${o.kind} sender ${o.user.username}: never connected`);
      sendErrors.add(true, tagsOf(o.kind, o.stage?.(), o.tags));
      socket.close();
    }
  }, o.durationMs);
}
