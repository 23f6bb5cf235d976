import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { createPoster } from './http.ts';

export type SenderKind = 'rest' | 'ws' | 'sio';

/** A connected client that sends global messages without waiting for one to finish before the next. */
export interface Sender {
  kind: SenderKind | 'bare-ws';
  /**
   * `done` hears whether this message was stored (2xx, ack ok) once that is known;
   * the seed-style plain-WS sender never knows (success is silent), so it never calls it.
   */
  send(content: string, done?: (ok: boolean) => void): void;
  /** Stored (2xx, ack ok, or a plain-WS frame that drew no error frame), failed, still unanswered. */
  counts(): { ok: number; failed: number; pending: number };
  close(): void;
}

/**
 * How a REST sender addresses one message (`body`), and who hears its answer's
 * status once it comes (`answered`, before `done`): a section's own ledger.
 */
export type RestAddressing = (content: string) => { body: Record<string, unknown>; answered?: (status: number) => void };

/** A global message, nothing booked. */
const globalMessage: RestAddressing = (content) => ({ body: { content } });

export function restSender(url: string, token: string, senderId: string, localAddress?: string, address = globalMessage): Sender {
  const poster = createPoster({ url, token, senderId, localAddress });
  let ok = 0;
  let failed = 0;
  let pending = 0;
  return {
    kind: 'rest',
    send(content, done) {
      const { body, answered } = address(content);
      pending++;
      void poster.post(JSON.stringify(body)).then((status) => {
        pending--;
        const stored = status >= 200 && status < 300;
        if (stored) ok++;
        else failed++;
        answered?.(status);
        done?.(stored);
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

/**
 * Plain WS with a `client_msg_id` per message, so each send is answered: an `ack`
 * frame when stored, an `error` frame naming the id otherwise (30 s without
 * either counts as failed). Waits for the gateway's `connection` frame first.
 */
export async function ackedWsSender(url: string): Promise<Sender> {
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('message', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed with ${code} before the connection frame`)));
  });
  const prefix = randomUUID();
  const waiting = new Map<string, (stored: boolean) => void>();
  let next = 0;
  let ok = 0;
  let failed = 0;
  const settle = (id: string, stored: boolean) => {
    const answer = waiting.get(id);
    waiting.delete(id);
    answer?.(stored);
  };
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type?: string; client_msg_id?: unknown };
    if (typeof frame.client_msg_id !== 'string') return;
    if (frame.type === 'ack') settle(frame.client_msg_id, true);
    else if (frame.type === 'error') settle(frame.client_msg_id, false);
  });
  // An error is followed by 'close', which fails whatever is still unanswered.
  ws.on('error', () => undefined);
  ws.on('close', () => {
    for (const id of [...waiting.keys()]) settle(id, false);
  });
  return {
    kind: 'ws',
    send(content, done) {
      const id = `${prefix}-${next++}`;
      const timer = setTimeout(() => settle(id, false), 30_000);
      waiting.set(id, (stored) => {
        clearTimeout(timer);
        if (stored) ok++;
        else failed++;
        done?.(stored);
      });
      ws.send(JSON.stringify({ type: 'message', content, client_msg_id: id }));
    },
    counts: () => ({ ok, failed, pending: waiting.size }),
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
    send(content, done) {
      pending++;
      socket.timeout(30_000).emit('message', { content }, (err: Error | null, ack?: { ok: boolean }) => {
        pending--;
        const stored = !err && ack?.ok === true;
        if (stored) ok++;
        else failed++;
        done?.(stored);
      });
    },
    counts: () => ({ ok, failed, pending }),
    close: () => socket.disconnect(),
  };
}
