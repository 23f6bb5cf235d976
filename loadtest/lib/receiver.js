// A receiving client of either socket kind for the load scenarios: counts this
// run's messages once per id (DeliveryTracker), measures their delivery latency,
// keeps the last resume cursor, and can drop its socket and resume on a new one
// with `since` (reconnect-storm).

import { clearTimeout, setTimeout } from 'k6/timers';
import { connectSuccess, connectTime, deliveryLatency, messagesDuplicated, messagesLost, messagesReceived } from './metrics.js';
import { DeliveryTracker, deliveryLatencyMs, isOurs, messageShapeOk, parseTag } from './messages.js';
import { connectChat } from './sockets.js';

/** @typedef {import('./sockets.js').SocketKind} SocketKind */
/** @typedef {import('./sockets.js').ChatSocket} ChatSocket */
/** @typedef {import('./messages.js').RunMessage} RunMessage */
/** @typedef {import('./messages.js').MessageTag} MessageTag */
/**
 * How a resume (`open(since)`) ended, and after how many ms.
 * @typedef {{ outcome: 'resumed' | 'reload' | 'failed', ms: number, replayed: number }} ResumeResult
 */
/**
 * @typedef {object} ReceiverOptions
 * @property {SocketKind} kind
 * @property {string} wsBase
 * @property {string} token
 * @property {string} runId
 * @property {string} [clientId] Socket.IO's client_id (spreads clients over the gateways behind nginx)
 * @property {string} [name] for log lines
 * @property {number} [connectTimeoutMs] a socket not connected by then counts as failed and is closed (default 15000)
 * @property {(message: RunMessage, tag: MessageTag | null, event: string, receivedAt: number) => void} [onOurs] after a new (not duplicate) message of this run was recorded
 * @property {(result: ResumeResult) => void} [onResume] once per open(since)
 */

let warnings = 0;
/** At most 10 warnings per VU, so a thousand failing clients do not flood the output. @param {string} line */
export function warnOnce(line) {
  if (warnings++ < 10) console.warn(line);
  else if (warnings === 11) console.warn('(further warnings of this VU suppressed)');
}

export class Receiver {
  /** @param {ReceiverOptions} options */
  constructor(options) {
    this.options = options;
    this.kind = options.kind;
    this.tracker = new DeliveryTracker();
    /** @type {string | undefined} the cursor of the last frame that carried one */
    this.cursor = undefined;
    /** @type {ChatSocket | null} */
    this.socket = null;
    this.generation = 0;
    this.everConnected = false;
    this.badFrames = 0;
    this.reloaded = false;
    /** @type {Map<string, number>} chat_messages_received per stage tag, added in one sample each at finish() */
    this.receivedByStage = new Map();
  }

  /**
   * Opens a socket (closing any previous one first: its frames are ignored from
   * now on, so what it still delivers counts as missed and must come back in the
   * replay). With `since`, resumes after that cursor.
   * @param {string} [since]
   */
  open(since) {
    const o = this.options;
    const previous = this.socket;
    const generation = ++this.generation;
    const live = () => generation === this.generation;
    if (previous) previous.close();

    const started = Date.now();
    const tags = { kind: o.kind };
    let connected = false;
    let resumeSettled = since === undefined;
    /** @param {ResumeResult['outcome']} outcome @param {number} replayed */
    const settleResume = (outcome, replayed) => {
      if (resumeSettled) return;
      resumeSettled = true;
      o.onResume?.({ outcome, ms: Date.now() - started, replayed });
    };
    const settleConnect = (/** @type {boolean} */ ok) => {
      if (connected) return;
      if (ok) connected = true;
      if (since === undefined) {
        connectSuccess.add(ok, tags);
        if (ok) connectTime.add(Date.now() - started, tags);
      } else if (!ok) {
        settleResume('failed', 0);
      }
    };
    const timeout = setTimeout(() => {
      if (!live() || (connected && resumeSettled)) return;
      warnOnce(`${o.kind} ${o.name ?? ''}: no ${connected ? 'resumed/reload' : 'connection'} after ${o.connectTimeoutMs ?? 15_000} ms`);
      settleConnect(false);
      settleResume('failed', 0);
      socket.close();
    }, o.connectTimeoutMs ?? 15_000);

    const socket = connectChat(o.kind, {
      wsBase: o.wsBase,
      token: o.token,
      since,
      clientId: o.clientId,
      handlers: {
        onConnected: (cursor) => {
          if (!live()) return;
          if (cursor) this.cursor = cursor;
          this.everConnected = true;
          settleConnect(true);
          if (resumeSettled) clearTimeout(timeout);
        },
        onMessage: (event, message, cursor, receivedAt) => {
          if (!live()) return;
          if (cursor) this.cursor = cursor;
          if (!isOurs(o.runId, message)) return;
          if (!messageShapeOk(message)) this.badFrames++;
          const tag = parseTag(message.content);
          if (!this.tracker.see(message, tag)) {
            messagesDuplicated.add(1, tags);
            return;
          }
          const stage = tag?.stage === undefined ? '' : String(tag.stage);
          this.receivedByStage.set(stage, (this.receivedByStage.get(stage) ?? 0) + 1);
          const latency = deliveryLatencyMs(message, tag, receivedAt);
          if (latency !== undefined) deliveryLatency.add(latency, stage ? { kind: o.kind, stage } : tags);
          o.onOurs?.(message, tag, event, receivedAt);
        },
        onResumed: (cursor, replayed) => {
          if (!live()) return;
          this.cursor = cursor;
          settleResume('resumed', replayed);
          if (connected) clearTimeout(timeout);
        },
        onReload: (cursor) => {
          if (!live()) return;
          this.cursor = cursor;
          this.reloaded = true;
          settleResume('reload', 0);
          if (connected) clearTimeout(timeout);
        },
        onServerError: (error) => {
          if (live()) warnOnce(`${o.kind} ${o.name ?? ''}: server error ${error.code}: ${error.error}`);
        },
        onConnectError: (data) => {
          if (!live()) return;
          warnOnce(`${o.kind} ${o.name ?? ''}: connect_error ${data}`);
          settleConnect(false);
        },
        onSocketError: (error) => {
          if (live()) warnOnce(`${o.kind} ${o.name ?? ''}: ${error}`);
        },
        onBadFrame: () => {
          this.badFrames++;
        },
        onClose: () => {
          if (!live()) return;
          clearTimeout(timeout);
          settleConnect(false);
          settleResume('failed', 0);
        },
      },
    });
    this.socket = socket;
  }

  /**
   * Closes for good, adds what it received to chat_messages_received (counted
   * here rather than per frame: fewer samples for k6 to process) and what it
   * lacks to chat_messages_lost (unless it was told to reload).
   */
  finish() {
    this.generation++; // ignore whatever the socket still delivers while closing
    this.socket?.close();
    for (const [stage, count] of this.receivedByStage) messagesReceived.add(count, stage ? { kind: this.kind, stage } : { kind: this.kind });
    this.receivedByStage.clear();
    if (!this.reloaded) messagesLost.add(this.tracker.lost(), { kind: this.kind });
  }
}
