import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { serveWorker } from '../worker.ts';
import { loopback } from '../users.ts';

// A child process that opens many idle connections of one kind to one server
// (directly or through nginx) and keeps them, answering heartbeats, until told
// to close. Its memory and file descriptors are its own, apart from the servers
// being measured. With `reconnect`, a connection the server drops is opened again
// the way socket.io-client does by default (delays from 1 s doubling to 5 s,
// each +-50%), so a killed gateway turns into a reconnect storm to measure.

interface OpenRequest {
  kind: 'ws' | 'sio';
  /** ws: a URL template with {token}; sio: the http:// origin. */
  url: string;
  tokens: string[];
  /** Total open connections wanted after this call. */
  total: number;
  concurrency: number;
  /** First loopback source address. */
  addressOffset: number;
  /** Connections per source address (default 1000; 1 = every client from an address of its own). */
  perAddress?: number;
  /** ws: the connection counts as up at the server's first frame (the gateway's greeting), not at the upgrade. */
  greeting?: boolean;
  /** Open again what the server drops (see above). */
  reconnect?: boolean;
}

const RECONNECT = { initialMs: 1_000, maxMs: 5_000, jitter: 0.5 };
const reconnectDelay = (attempt: number) =>
  Math.min(RECONNECT.maxMs, RECONNECT.initialMs * 2 ** attempt) * (1 - RECONNECT.jitter + 2 * RECONNECT.jitter * Math.random());

const closers: (() => void)[] = [];
let live = 0;
let dropped = 0;
/** Reconnect attempts that failed (refused, reset or answered with an error). */
let refused = 0;
let reopened = 0;
/** Date.now() of the first drop and of the latest successful reopen. */
let firstDropAt: number | undefined;
let lastReopenAt: number | undefined;
let closing = false;

function noteDrop() {
  live--;
  dropped++;
  firstDropAt ??= Date.now();
}

function noteReopen() {
  live++;
  reopened++;
  lastReopenAt = Date.now();
}

function openWs(req: OpenRequest, url: string, localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let attempt = 0;
    let first = true;
    let current: WebSocket | undefined;
    closers.push(() => current?.terminate());
    const connect = () => {
      const ws = new WebSocket(url, { localAddress, perMessageDeflate: false });
      current = ws;
      let up = false;
      const onUp = () => {
        if (up) return;
        up = true;
        attempt = 0;
        if (first) {
          first = false;
          live++;
          resolve();
        } else noteReopen();
      };
      ws.on('open', () => {
        if (!req.greeting) onUp();
      });
      ws.once('message', onUp);
      ws.on('error', () => undefined);
      ws.on('close', () => {
        if (closing) return;
        if (up) noteDrop();
        else if (first) {
          first = false;
          closers.pop();
          return reject(new Error('closed before it was up'));
        } else refused++;
        if (req.reconnect) setTimeout(connect, reconnectDelay(attempt++));
      });
    };
    connect();
  });
}

function openSio(req: OpenRequest, token: string, localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // socket.io-client's types omit it, but the engine passes localAddress on to the ws transport.
    const socket: Socket = io(req.url, {
      auth: { token },
      transports: ['websocket'],
      reconnection: req.reconnect ?? false,
      reconnectionDelay: RECONNECT.initialMs,
      reconnectionDelayMax: RECONNECT.maxMs,
      randomizationFactor: RECONNECT.jitter,
      forceNew: true,
      ...{ localAddress },
    });
    let first = true;
    socket.on('connect', () => {
      if (first) {
        first = false;
        live++;
        closers.push(() => socket.disconnect());
        resolve();
      } else noteReopen();
    });
    socket.on('connect_error', (error) => {
      if (!first) {
        refused++;
        return;
      }
      first = false;
      socket.disconnect();
      reject(error);
    });
    socket.on('disconnect', (reason) => {
      if (closing) return;
      noteDrop();
      // The server's own disconnect is not retried by socket.io-client; a client that wants to stay does.
      if (req.reconnect && reason === 'io server disconnect') socket.connect();
    });
  });
}

function openOne(req: OpenRequest, i: number): Promise<void> {
  const token = req.tokens[i % req.tokens.length] as string;
  const localAddress = loopback(req.addressOffset + Math.floor(i / (req.perAddress ?? 1000)));
  return req.kind === 'ws' ? openWs(req, req.url.replace('{token}', encodeURIComponent(token)), localAddress) : openSio(req, token, localAddress);
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
      return { open: live, dropped, refused, reopened, firstDropAt, lastReopenAt };
    case 'close':
      closing = true;
      for (const close of closers.splice(0)) close();
      live = 0;
      // A closed client stays closed: the bench starts a new one for its next run.
      return null;
    default:
      throw new Error(`unknown command ${String(req.cmd)}`);
  }
});
