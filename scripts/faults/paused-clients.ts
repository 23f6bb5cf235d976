import { WebSocket } from 'ws';
import { WS_BASE, type User } from './rest.ts';
import { frameText } from './ws-text.ts';

/** A client that connects normally, then stops reading from its socket altogether. */
export interface PausedClient {
  kind: 'ws' | 'io';
  user: User;
  /** Stops reading: the kernel buffers fill up, then the gateway's. */
  pause(): void;
  close(): void;
}

function opened(ws: WebSocket, ready: (text: string) => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not connect`)), 10_000);
    ws.on('message', (data) => {
      if (!ready(frameText(data))) return;
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

const paused = (kind: PausedClient['kind'], user: User, ws: WebSocket): PausedClient => ({
  kind,
  user,
  pause: () => ws.pause(),
  close: () => ws.terminate(),
});

/** The plain endpoint: live once the `connection` frame has come. */
export async function openPausedWs(user: User): Promise<PausedClient> {
  const ws = new WebSocket(`${WS_BASE}/api/ws/connect?token=${encodeURIComponent(user.token)}`);
  ws.on('error', () => {});
  await opened(ws, (text) => text.includes('"type":"connection"'), 'the paused plain WebSocket');
  return paused('ws', user, ws);
}

/**
 * Socket.IO spoken by hand over Engine.IO's WebSocket transport, so that
 * nothing reads on the client's behalf once it is paused: open (`0`),
 * connect to the main namespace with the token (`40`), answer pings (`2` ->
 * `3`) until paused, live once `resumed` has come.
 */
export async function openPausedIo(user: User): Promise<PausedClient> {
  const ws = new WebSocket(`${WS_BASE}/socket.io/?EIO=4&transport=websocket&client_id=${crypto.randomUUID()}`);
  ws.on('error', () => {});
  ws.on('message', (data) => {
    const text = frameText(data);
    if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token: user.token })}`);
    else if (text === '2') ws.send('3');
  });
  await opened(ws, (text) => text.startsWith('42["resumed"'), 'the paused Socket.IO client');
  return paused('io', user, ws);
}
