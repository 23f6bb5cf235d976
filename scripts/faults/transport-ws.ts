import { WebSocket } from 'ws';
import { WS_BASE, type Attempt, type ChangeRequest, type User } from './rest.ts';
import { backoff } from './receiver.ts';
import { ACK_TIMEOUT_MS, until, type SendTransport } from './transport.ts';
import { frameText } from './ws-text.ts';

interface Frame {
  type: string;
  client_msg_id?: string;
  message?: { id: string };
  code?: string;
}

/** A plain WebSocket sending `{"type":"message", client_msg_id}` and waiting for its `ack` or `error` frame. */
export function wsTransport(user: User): SendTransport {
  const pending = new Map<string, (attempt: Attempt) => void>();
  let ws: WebSocket | undefined;
  let open = false;
  let closed = false;
  let failures = 0;

  const settle = (key: string, attempt: Attempt) => {
    pending.get(key)?.(attempt);
    pending.delete(key);
  };

  function connect() {
    const socket = new WebSocket(`${WS_BASE}/api/ws/connect?token=${encodeURIComponent(user.token)}`);
    ws = socket;
    socket.on('message', (data) => {
      const frame = JSON.parse(frameText(data)) as Frame;
      if (frame.type === 'connection') {
        open = true;
        failures = 0;
      }
      if (frame.client_msg_id === undefined) return;
      if (frame.type === 'ack' && frame.message) settle(frame.client_msg_id, { ok: true, id: frame.message.id });
      if (frame.type === 'error') settle(frame.client_msg_id, { ok: false, reason: `error ${frame.code ?? ''}`.trim() });
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      open = false;
      // Whatever was in flight on this connection will not be answered now.
      for (const key of [...pending.keys()]) settle(key, { ok: false, reason: 'connection closed' });
      if (!closed) setTimeout(connect, backoff(failures++));
    });
  }
  connect();

  /** One frame carrying `key`, answered by its `ack` or `error` frame. */
  async function command(frame: Record<string, unknown>, key: string): Promise<Attempt> {
    if (!(await until(() => open, ACK_TIMEOUT_MS)) || !ws) return { ok: false, reason: 'not connected' };
    const socket = ws;
    return new Promise<Attempt>((resolve) => {
      const timer = setTimeout(() => settle(key, { ok: false, reason: 'no answer' }), ACK_TIMEOUT_MS);
      pending.set(key, (attempt) => {
        clearTimeout(timer);
        resolve(attempt);
      });
      socket.send(JSON.stringify({ ...frame, client_msg_id: key }));
    });
  }

  return {
    kind: 'ws',
    user,
    send: (body, key) => command({ type: 'message', ...body }, key),
    change: (change, key) => command(changeFrame(change), key),
    close() {
      closed = true;
      ws?.close();
    },
  };
}

/** The plain-WebSocket command frame of a change. */
function changeFrame(change: ChangeRequest): Record<string, unknown> {
  if (change.kind === 'edit') return { type: 'edit', id: change.id, content: change.content };
  if (change.kind === 'delete') return { type: 'delete', id: change.id };
  return { type: 'react', id: change.id, emoji: change.emoji, add: true };
}
