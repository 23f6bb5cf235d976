import { WebSocket } from 'ws';
import { WS_BASE, type User } from './rest.ts';
import { backoff, type Receiver } from './receiver.ts';
import type { DeliveredMessage, Tracker, Via } from './tracker.ts';
import { frameText } from './ws-text.ts';

interface Frame {
  type: string;
  message?: DeliveredMessage;
  cursor?: string;
  code?: string;
  replayed?: number;
}

/** A plain-WebSocket receiver: `?since=<cursor>` on every reconnect, messages before `resumed` count as replayed. */
export function startWsReceiver(name: string, user: User, tracker: Tracker): Receiver {
  let cursor: string | undefined;
  let mode: Via = 'live';
  let live = false;
  let closed = false;
  let failures = 0;
  let drops = 0;
  let ws: WebSocket | undefined;

  function onFrame(frame: Frame) {
    switch (frame.type) {
      case 'connection':
        // Without `since`, live at once from this cursor; with it, replay follows.
        if (frame.cursor !== undefined) {
          cursor = frame.cursor;
          live = true;
          failures = 0;
        }
        break;
      case 'message':
      case 'direct_message':
        if (frame.message) tracker.received(name, frame.message, mode);
        if (frame.cursor !== undefined) cursor = frame.cursor;
        break;
      case 'message_updated':
      case 'message_deleted':
        if (frame.message && frame.cursor !== undefined) {
          tracker.changeReceived(name, frame.message, frame.cursor);
          cursor = frame.cursor;
        }
        break;
      case 'resumed':
        cursor = frame.cursor;
        mode = 'live';
        live = true;
        failures = 0;
        break;
      case 'reload':
        // The backlog was too large to replay; this client does not reload history, so what it missed shows as lost.
        tracker.anomaly(name, 'reload (backlog too large)');
        cursor = frame.cursor;
        mode = 'live';
        live = true;
        break;
      case 'error':
        if (frame.code === 'invalid_cursor') {
          tracker.anomaly(name, 'cursor refused (invalid_cursor)');
          cursor = undefined;
        }
        break;
      default:
        // Other frames (pong, presence, ...) change nothing the fault suite counts.
        break;
    }
  }

  function connect() {
    const since = cursor;
    mode = since === undefined ? 'live' : 'replay';
    const query = `token=${encodeURIComponent(user.token)}${since === undefined ? '' : `&since=${encodeURIComponent(since)}`}`;
    const socket = new WebSocket(`${WS_BASE}/api/ws/connect?${query}`);
    ws = socket;
    socket.on('message', (data) => onFrame(JSON.parse(frameText(data)) as Frame));
    socket.on('error', () => {}); // followed by 'close', which reconnects
    socket.on('close', () => {
      if (live) drops++;
      live = false;
      if (closed) return;
      setTimeout(connect, backoff(failures++));
    });
  }

  connect();
  return {
    name,
    kind: 'ws',
    user,
    isLive: () => live,
    drops: () => drops,
    close() {
      closed = true;
      ws?.close();
    },
  };
}
