import { io } from 'socket.io-client';
import { BASE, type User } from './rest.ts';
import { backoff, type Receiver } from './receiver.ts';
import type { DeliveredMessage, Tracker, Via } from './tracker.ts';

type Delivered = DeliveredMessage & { cursor?: string };

/**
 * A Socket.IO receiver: `auth: {token, since}` with its last cursor on every
 * (re)connect, messages before `resumed` count as replayed. Socket.IO
 * reconnects by itself after a lost transport, not after a refusal by the
 * server (a middleware error or a server-side disconnect): then it is asked to.
 */
export function startIoReceiver(name: string, user: User, tracker: Tracker, polling: boolean): Receiver {
  let cursor: string | undefined;
  let resuming = false;
  let mode: Via = 'live';
  let live = false;
  let closed = false;
  let failures = 0;
  let drops = 0;

  const socket = io(BASE, {
    auth: (cb) => {
      resuming = cursor !== undefined;
      cb(cursor === undefined ? { token: user.token } : { token: user.token, since: cursor });
    },
    query: { client_id: crypto.randomUUID() },
    transports: polling ? ['polling', 'websocket'] : ['websocket'],
    reconnectionDelay: 100,
    reconnectionDelayMax: 2_000,
    forceNew: true,
  });
  const retry = () => {
    if (!closed) setTimeout(() => socket.connect(), backoff(failures++));
  };

  socket.on('connect', () => {
    mode = resuming ? 'replay' : 'live';
  });
  const onMessage = (message: Delivered) => {
    tracker.received(name, message, mode);
    if (message.cursor !== undefined) cursor = message.cursor;
  };
  socket.on('message', onMessage);
  socket.on('direct_message', onMessage);
  const onChange = (change: { message: DeliveredMessage; cursor: string }) => {
    tracker.changeReceived(name, change.message, change.cursor);
    cursor = change.cursor;
  };
  socket.on('message_updated', onChange);
  socket.on('message_deleted', onChange);
  socket.on('resumed', (r: { cursor: string }) => {
    cursor = r.cursor;
    mode = 'live';
    live = true;
    failures = 0;
  });
  socket.on('reload', (r: { cursor: string }) => {
    tracker.anomaly(name, 'reload (backlog too large)');
    cursor = r.cursor;
    mode = 'live';
    live = true;
  });
  socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
    if (error.data?.code === 'invalid_cursor') {
      tracker.anomaly(name, 'cursor refused (invalid_cursor)');
      cursor = undefined;
    }
    if (!socket.active) retry();
  });
  socket.on('disconnect', () => {
    if (live) drops++;
    live = false;
    if (!socket.active) retry();
  });

  return {
    name,
    kind: 'io',
    user,
    isLive: () => live,
    drops: () => drops,
    close() {
      closed = true;
      socket.close();
    },
  };
}
