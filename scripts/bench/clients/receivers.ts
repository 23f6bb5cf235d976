import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { nowMs, percentiles, type Percentiles } from '../stats.ts';
import { serveWorker } from '../worker.ts';
import { parseBenchContent } from './content.ts';

// A child process of receivers (plain WebSocket and Socket.IO) that records,
// per tag, the latency of every bench message it sees. Driven over IPC by
// receiver-pool.ts; kept out of the bench process so parsing thousands of
// frames per second does not delay the senders.

export interface ReceiverSpec {
  kind: 'ws' | 'sio';
  /** ws: the full ws:// URL; sio: the http:// origin. */
  url: string;
  token?: string;
  localAddress?: string;
}

export interface TagStats {
  latency: Percentiles;
  received: number;
  /** Distinct seqs seen by each receiver, in connect order. */
  distinctPerReceiver: number[];
  /** Mean size of the plain-WebSocket frames that carried this tag. */
  wsFrameBytes: number;
  /** Messages of this tag without the stored message's fields (id, sender, content, created_at, recipient, room_id); the bare relay's always. */
  malformed: number;
  /** Every latency, in arrival order, when asked for (`stats` with `samples: true`). */
  samples?: number[];
}

interface Record_ {
  latencies: number[];
  seen: Set<number>[];
  wsBytes: number;
  wsFrames: number;
  malformed: number;
}

const records = new Map<string, Record_>();
const closers: (() => void)[] = [];
let drops = 0;
let closing = false;

function recordFor(tag: string): Record_ {
  let r = records.get(tag);
  if (!r) {
    r = { latencies: [], seen: [], wsBytes: 0, wsFrames: 0, malformed: 0 };
    records.set(tag, r);
  }
  return r;
}

type Message = Record<string, unknown>;

const wellFormed = (m: Message) =>
  typeof m.id === 'string' && typeof m.sender === 'string' && typeof m.created_at === 'string' && 'recipient' in m && 'room_id' in m;

function onMessage(index: number, message: Message, at: number, wsBytes: number) {
  const parsed = parseBenchContent(message.content);
  if (!parsed) return;
  const r = recordFor(parsed.tag);
  r.latencies.push(at - parsed.sentAt);
  if (!wellFormed(message)) r.malformed++;
  (r.seen[index] ??= new Set()).add(parsed.seq);
  if (wsBytes > 0) {
    r.wsBytes += wsBytes;
    r.wsFrames++;
  }
}

function connectWs(index: number, spec: ReceiverSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(spec.url, { ...(spec.localAddress ? { localAddress: spec.localAddress } : {}), perMessageDeflate: false });
    let live = false;
    ws.on('open', () => {
      // The bare server says nothing on open; the gateway's `connection` frame means "in my rooms now".
      if (!spec.url.includes('/api/ws/connect')) {
        live = true;
        resolve();
      }
    });
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      const frame = JSON.parse(data.toString()) as { type?: string; message?: Message };
      if (frame.type === 'connection' && !live) {
        live = true;
        resolve();
      } else if (frame.message) onMessage(index, frame.message, at, data.length);
    });
    ws.on('error', (e) => {
      if (!live) reject(e);
    });
    ws.on('close', () => {
      if (live && !closing) drops++;
    });
    closers.push(() => ws.terminate());
  });
}

function connectSio(index: number, spec: ReceiverSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(spec.url, {
      auth: { token: spec.token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(spec.localAddress ? { localAddress: spec.localAddress } : {}),
    });
    socket.on('connect', () => resolve());
    socket.on('connect_error', (e) => reject(e));
    socket.on('message', (m: Message) => onMessage(index, m, nowMs(), 0));
    socket.on('disconnect', () => {
      if (!closing) drops++;
    });
    closers.push(() => socket.disconnect());
  });
}

async function connectAll(specs: ReceiverSpec[], concurrency: number): Promise<{ live: number; failed: number; errors: string[] }> {
  const base = closers.length;
  let next = 0;
  let live = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, specs.length) }, async () => {
      while (next < specs.length) {
        const i = next++;
        const spec = specs[i] as ReceiverSpec;
        try {
          await (spec.kind === 'ws' ? connectWs(base + i, spec) : connectSio(base + i, spec));
          live++;
        } catch (e) {
          if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  return { live, failed: specs.length - live, errors };
}

function stats(tag: string, samples: boolean): TagStats {
  const r = records.get(tag) ?? { latencies: [], seen: [], wsBytes: 0, wsFrames: 0, malformed: 0 };
  return {
    latency: percentiles(r.latencies),
    received: r.latencies.length,
    distinctPerReceiver: Array.from({ length: closers.length }, (_, i) => r.seen[i]?.size ?? 0),
    wsFrameBytes: r.wsFrames > 0 ? r.wsBytes / r.wsFrames : Number.NaN,
    malformed: r.malformed,
    ...(samples ? { samples: r.latencies } : {}),
  };
}

serveWorker({}, async (req) => {
  switch (req.cmd) {
    case 'connect':
      return connectAll(req.receivers as ReceiverSpec[], Number(req.concurrency ?? 50));
    case 'count':
      return records.get(String(req.tag))?.latencies.length ?? 0;
    case 'stats': {
      const s = stats(String(req.tag), req.samples === true);
      records.delete(String(req.tag));
      return s;
    }
    case 'drops':
      return drops;
    case 'close':
      closing = true;
      for (const close of closers.splice(0)) close();
      return null;
    default:
      throw new Error(`unknown command ${String(req.cmd)}`);
  }
});
