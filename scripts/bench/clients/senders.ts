import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { createPoster } from './http.ts';

export type SenderKind = 'rest' | 'ws' | 'sio';

/** A connected client that sends global messages without waiting for one to finish before the next. */
export interface Sender {
  kind: SenderKind | 'bare-ws';
  send(content: string): void;
  /** Stored (2xx, ack ok, or a plain-WS frame that drew no error frame), failed, still unanswered. */
  counts(): { ok: number; failed: number; pending: number };
  close(): void;
}

export function restSender(url: string, token: string, senderId: string, localAddress: string): Sender {
  const poster = createPoster({ url, token, senderId, localAddress });
  let ok = 0;
  let failed = 0;
  let pending = 0;
  return {
    kind: 'rest',
    send(content) {
      pending++;
      void poster.post(JSON.stringify({ content })).then((status) => {
        pending--;
        if (status >= 200 && status < 300) ok++;
        else failed++;
      });
    },
    counts: () => ({ ok, failed, pending }),
    close: () => poster.close(),
  };
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The seed's way: `{"type":"message","content"}` with no client_msg_id, so success is silent and only errors answer. */
export async function wsSender(url: string, bare = false): Promise<Sender> {
  const ws = await openWs(url);
  let sent = 0;
  let failed = 0;
  ws.on('message', (data: Buffer) => {
    if ((JSON.parse(data.toString()) as { type?: string }).type === 'error') failed++;
  });
  return {
    kind: bare ? 'bare-ws' : 'ws',
    send(content) {
      sent++;
      // The bare server relays the frame as is, so it is sent in the shape receivers read.
      ws.send(bare ? JSON.stringify({ type: 'message', message: { content } }) : JSON.stringify({ type: 'message', content }));
    },
    counts: () => ({ ok: sent - failed, failed, pending: 0 }),
    close: () => ws.close(),
  };
}

export async function sioSender(origin: string, token: string): Promise<Sender> {
  const socket = io(origin, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  let ok = 0;
  let failed = 0;
  let pending = 0;
  return {
    kind: 'sio',
    send(content) {
      pending++;
      socket.timeout(30_000).emit('message', { content }, (err: Error | null, ack?: { ok: boolean }) => {
        pending--;
        if (!err && ack?.ok) ok++;
        else failed++;
      });
    },
    counts: () => ({ ok, failed, pending }),
    close: () => socket.disconnect(),
  };
}
