// The two socket kinds of the gateway, spoken over k6's WebSocket (k6/websockets,
// stable and browser-like in k6 1.x), behind one small interface.
//
// Plain WebSocket: /api/ws/connect?token=...[&since=<cursor>], one JSON object per
// text frame (docs/asyncapi.yaml, channel plainWebSocket).
//
// Socket.IO by hand (no client library in k6): Engine.IO v4 packets, one per
// WebSocket frame: 0 open, 1 close, 2 ping, 3 pong, 4 message. A Socket.IO packet
// rides inside an Engine.IO message: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK,
// 4 CONNECT_ERROR; the default namespace "/" is omitted. So "40{...}" connects with
// an auth payload ({token, since?}), "42[...]" is an event, "42<id>[...]" an event
// that wants an ack, "43<id>[...]" the ack, and the server's "2" ping must be
// answered with "3" within pingTimeout.

import { WebSocket } from 'k6/websockets';
import { clearTimeout, setTimeout } from 'k6/timers';

/** @typedef {'ws' | 'socket.io'} SocketKind */
/** @typedef {{ error?: string, code?: string, retry_after?: number, client_msg_id?: string }} ServerError */
/** @typedef {{ content: string, recipient?: string, room_id?: string }} MessageBody */
/**
 * Called once per send: ok with the stored message, or not ok with the error
 * (the server's, or code `timeout` / `closed` from here).
 * @typedef {(ok: boolean, result: unknown) => void} AckCallback
 */
/**
 * @typedef {object} ChatHandlers
 * @property {() => void} [onEngineOpen] Socket.IO: Engine.IO's open packet arrived (the auth packet goes out now)
 * @property {(cursor: string | undefined) => void} [onConnected] plain WS: the `connection` frame (its cursor when not resuming); Socket.IO: namespace connected (40)
 * @property {(event: string, message: unknown, cursor: string | undefined, receivedAt: number) => void} [onMessage] `message` or `direct_message`, with the resume cursor and when k6 read the frame off the socket (ms since the epoch; before it waited for the VU's event loop)
 * @property {(cursor: string, replayed: number) => void} [onResumed] replay done (Socket.IO also sends it, replayed 0, to a client that did not resume)
 * @property {(cursor: string) => void} [onReload] too much missed to replay
 * @property {(error: ServerError) => void} [onServerError] a plain WS `error` frame (not a failed send's) or a Socket.IO `error` event
 * @property {(data: string) => void} [onConnectError] Socket.IO: connect_error (44) with its JSON data
 * @property {() => void} [onServerDisconnect] Socket.IO: the server disconnected the socket (41)
 * @property {(error: string) => void} [onSocketError] the WebSocket failed (refused handshake, reset, ...)
 * @property {() => void} [onClose] the WebSocket closed, either way
 * @property {() => void} [onBadFrame] a frame that does not parse
 */
/**
 * @typedef {object} ConnectOptions
 * @property {string} wsBase ws:// or wss:// origin: nginx, or one gateway
 * @property {string} token
 * @property {string} [since] resume after this cursor
 * @property {string} [clientId] Socket.IO: nginx hashes it to pick the gateway, so clients from one address spread
 * @property {Record<string, string>} [tags] tags of k6's built-in ws_* metrics
 * @property {ChatHandlers} handlers
 */
/**
 * @typedef {object} ChatSocket
 * @property {SocketKind} kind
 * @property {WebSocket} ws
 * @property {() => boolean} isOpen
 * @property {(body: MessageBody, onAck?: AckCallback, timeoutMs?: number) => boolean} send sends a message (false when not open); with onAck, asks for an acknowledgement
 * @property {() => void} close
 */

/**
 * @param {SocketKind} kind
 * @param {ConnectOptions} options
 * @returns {ChatSocket}
 */
export function connectChat(kind, options) {
  return kind === 'ws' ? connectPlainWs(options) : connectSocketIo(options);
}

/**
 * Pending acknowledgements, failed with `timeout` after timeoutMs and with
 * `closed` when the socket closes first.
 * @template K
 */
class PendingAcks {
  constructor() {
    /** @type {Map<K, { cb: AckCallback, timer: number | undefined }>} */
    this.map = new Map();
  }

  /** @param {K} key @param {AckCallback} cb @param {number} timeoutMs */
  add(key, cb, timeoutMs) {
    const timer =
      timeoutMs > 0
        ? Number(setTimeout(() => this.settle(key, false, { code: 'timeout', error: `no ack in ${timeoutMs} ms` }), timeoutMs))
        : undefined;
    this.map.set(key, { cb, timer });
  }

  /** @param {K} key @param {boolean} ok @param {unknown} result */
  settle(key, ok, result) {
    const pending = this.map.get(key);
    if (!pending) return false;
    this.map.delete(key);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.cb(ok, result);
    return true;
  }

  failAll() {
    for (const key of [...this.map.keys()]) this.settle(key, false, { code: 'closed', error: 'socket closed before the ack' });
  }
}

let clientMsgIds = 0;

/** @param {ConnectOptions} options @returns {ChatSocket} */
function connectPlainWs({ wsBase, token, since, tags, handlers: h }) {
  let url = `${wsBase}/api/ws/connect?token=${encodeURIComponent(token)}`;
  if (since) url += `&since=${encodeURIComponent(since)}`;
  const ws = new WebSocket(url, null, tags ? { tags } : null);
  /** @type {PendingAcks<string>} */
  const acks = new PendingAcks();

  ws.onmessage = (event) => {
    if (!event) return; // always there; @types/k6 marks it optional
    let frame;
    try {
      frame = JSON.parse(String(event.data)); // text frames
    } catch {
      h.onBadFrame?.();
      return;
    }
    switch (frame?.type) {
      case 'connection':
        if (frame.status === 'connected') h.onConnected?.(typeof frame.cursor === 'string' ? frame.cursor : undefined);
        return;
      case 'message':
      case 'direct_message':
        h.onMessage?.(frame.type, frame.message, typeof frame.cursor === 'string' ? frame.cursor : undefined, event.timestamp);
        return;
      case 'ack':
        acks.settle(String(frame.client_msg_id), true, frame.message);
        return;
      case 'error':
        if (typeof frame.client_msg_id === 'string' && acks.settle(frame.client_msg_id, false, frame)) return;
        h.onServerError?.(frame);
        return;
      case 'resumed':
        h.onResumed?.(String(frame.cursor), Number(frame.replayed));
        return;
      case 'reload':
        h.onReload?.(String(frame.cursor));
        return;
      default:
        return; // pong
    }
  };
  ws.onerror = (e) => h.onSocketError?.(String(e?.error));
  ws.onclose = () => {
    acks.failAll();
    h.onClose?.();
  };

  return {
    kind: 'ws',
    ws,
    isOpen: () => ws.readyState === 1,
    send(body, onAck, timeoutMs = 10_000) {
      if (ws.readyState !== 1) return false;
      /** @type {Record<string, unknown>} */
      const frame = { type: 'message', ...body };
      if (onAck) {
        // Unique per VU and run: retries are not reused (a failed send gets a new id).
        const id = `k6-${__VU}-${++clientMsgIds}-${Date.now()}`;
        frame.client_msg_id = id;
        acks.add(id, onAck, timeoutMs);
      }
      ws.send(JSON.stringify(frame));
      return true;
    },
    close: () => ws.close(),
  };
}

/** @param {ConnectOptions} options @returns {ChatSocket} */
function connectSocketIo({ wsBase, token, since, clientId, tags, handlers: h }) {
  const query = clientId ? `&client_id=${encodeURIComponent(clientId)}` : '';
  const ws = new WebSocket(`${wsBase}/socket.io/?EIO=4&transport=websocket${query}`, null, tags ? { tags } : null);
  /** @type {PendingAcks<number>} */
  const acks = new PendingAcks();
  let nextAckId = 0;

  ws.onmessage = (event) => {
    if (!event) return; // always there; @types/k6 marks it optional
    const packet = String(event.data);
    switch (packet[0]) {
      case '0': // Engine.IO open: {"sid","pingInterval","pingTimeout",...}
        h.onEngineOpen?.();
        ws.send(`40${JSON.stringify(since ? { token, since } : { token })}`);
        return;
      case '2': // ping
        ws.send('3');
        return;
      case '4':
        break;
      default:
        return; // 1 close, 6 noop, ...
    }
    const type = packet[1];
    if (type === '0') {
      h.onConnected?.(undefined); // 40{"sid":"..."}
      return;
    }
    if (type === '1') {
      h.onServerDisconnect?.();
      return;
    }
    if (type === '4') {
      h.onConnectError?.(packet.slice(2));
      return;
    }
    if (type !== '2' && type !== '3') return;
    // 42[<event>, <arg>...], 42<id>[...] (wants an ack), 43<id>[<ack arg>...]
    const match = /^4([23])(\d*)(\[[\s\S]*\])$/.exec(packet);
    if (!match) {
      h.onBadFrame?.();
      return;
    }
    let args;
    try {
      args = JSON.parse(match[3] ?? '');
    } catch {
      h.onBadFrame?.();
      return;
    }
    if (!Array.isArray(args)) {
      h.onBadFrame?.();
      return;
    }
    if (match[1] === '3') {
      const ack = args[0];
      const ok = ack !== null && typeof ack === 'object' && ack.ok === true;
      acks.settle(Number(match[2]), ok, ok ? ack.message : ack);
      return;
    }
    const [name, payload] = args;
    switch (name) {
      case 'message':
      case 'direct_message':
        h.onMessage?.(name, payload, typeof payload?.cursor === 'string' ? payload.cursor : undefined, event.timestamp);
        return;
      case 'resumed':
        h.onResumed?.(String(payload?.cursor), Number(payload?.replayed));
        return;
      case 'reload':
        h.onReload?.(String(payload?.cursor));
        return;
      case 'error':
        h.onServerError?.(payload ?? {});
        return;
      default:
        return; // presence
    }
  };
  ws.onerror = (e) => h.onSocketError?.(String(e?.error));
  ws.onclose = () => {
    acks.failAll();
    h.onClose?.();
  };

  return {
    kind: 'socket.io',
    ws,
    isOpen: () => ws.readyState === 1,
    send(body, onAck, timeoutMs = 10_000) {
      if (ws.readyState !== 1) return false;
      const payload = JSON.stringify(['message', body]);
      if (onAck) {
        const id = nextAckId++;
        acks.add(id, onAck, timeoutMs);
        ws.send(`42${id}${payload}`);
      } else {
        ws.send(`42${payload}`);
      }
      return true;
    },
    close() {
      if (ws.readyState === 1) ws.send('41'); // Socket.IO DISCONNECT, then close
      ws.close();
    },
  };
}
