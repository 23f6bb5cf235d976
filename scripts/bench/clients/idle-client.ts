import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { serveWorker } from '../worker.ts';
import { loopback } from '../users.ts';

// A child process that opens many idle connections of one kind to one server
// and keeps them (answering heartbeats) until told to close. Its memory and
// file descriptors are its own, apart from the server being measured.

interface OpenRequest {
  kind: 'ws' | 'sio';
  /** ws: a URL template with {token}; sio: the http:// origin. */
  url: string;
  tokens: string[];
  /** Total open connections wanted after this call. */
  total: number;
  concurrency: number;
  /** First loopback source address; each address carries 1000 connections. */
  addressOffset: number;
}

const closers: (() => void)[] = [];
let dropped = 0;
let closing = false;

function openOne(req: OpenRequest, i: number): Promise<void> {
  const token = req.tokens[i % req.tokens.length] as string;
  const localAddress = loopback(req.addressOffset + Math.floor(i / 1000));
  return new Promise((resolve, reject) => {
    if (req.kind === 'ws') {
      const ws = new WebSocket(req.url.replace('{token}', encodeURIComponent(token)), { localAddress, perMessageDeflate: false });
      const gateway = req.url.includes('/api/ws/connect');
      let live = false;
      const up = () => {
        live = true;
        closers.push(() => ws.terminate());
        resolve();
      };
      ws.on('open', () => {
        if (!gateway) up();
      });
      // The gateway's first frame says the connection is authenticated and in its rooms.
      ws.once('message', () => {
        if (gateway && !live) up();
      });
      ws.on('error', (e) => {
        if (!live) reject(e);
      });
      ws.on('close', () => {
        if (live && !closing) dropped++;
      });
    } else {
      // socket.io-client's types omit it, but the engine passes localAddress on to the ws transport.
      const socket: Socket = io(req.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, ...{ localAddress } });
      let live = false;
      socket.once('connect', () => {
        live = true;
        closers.push(() => socket.disconnect());
        resolve();
      });
      socket.once('connect_error', reject);
      socket.on('disconnect', () => {
        if (live && !closing) dropped++;
      });
    }
  });
}

async function openMany(req: OpenRequest): Promise<{ opened: number; failed: number; ms: number; errors: string[] }> {
  const start = performance.now();
  let next = closers.length;
  let opened = 0;
  let failed = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: req.concurrency }, async () => {
      while (next < req.total && failed < 1000) {
        const i = next++;
        try {
          await openOne(req, i);
          opened++;
        } catch (e) {
          failed++;
          if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  return { opened, failed, ms: performance.now() - start, errors };
}

serveWorker({}, async (req) => {
  switch (req.cmd) {
    case 'open':
      return openMany(req as unknown as OpenRequest);
    case 'status':
      return { open: closers.length - dropped, dropped };
    case 'close':
      closing = true;
      for (const close of closers.splice(0)) close();
      return null;
    default:
      throw new Error(`unknown command ${String(req.cmd)}`);
  }
});
