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

/** One receiver: what it was opened with, the cursor of the last frame that carried one, how to close it. */
interface Slot {
  spec: ReceiverSpec;
  cursor?: string;
  /** Closes the current connection on purpose (not a drop). */
  close: () => void;
}

const slots: Slot[] = [];

function noteCursor(slot: Slot, cursor: unknown) {
  if (typeof cursor === 'string' && cursor !== '') slot.cursor = cursor;
}

/** Opens receiver `index` (again, with `since` = its last cursor, when `resume`). */
function connectWs(index: number, slot: Slot, resume = false): Promise<void> {
  const { spec } = slot;
  const since = resume && slot.cursor ? `&since=${encodeURIComponent(slot.cursor)}` : '';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(spec.url + since, { ...(spec.localAddress ? { localAddress: spec.localAddress } : {}), perMessageDeflate: false });
    let live = false;
    ws.on('open', () => {
      // The bare server says nothing on open; the gateway's first frame (`connection`, or a replay when resuming) means "in my rooms now".
      if (!spec.url.includes('/api/ws/connect')) {
        live = true;
        resolve();
      }
    });
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      const frame = JSON.parse(data.toString()) as { type?: string; message?: Message; cursor?: unknown };
      noteCursor(slot, frame.cursor);
      if (!live) {
        live = true;
        resolve();
      }
      if (frame.message) onMessage(index, frame.message, at, data.length);
    });
    ws.on('error', (e) => {
      if (!live) reject(e);
    });
    ws.on('close', (code) => {
      if (!live) reject(new Error(`closed with ${code} before the first frame`));
      else if (!closing && !purposely) drops++;
    });
    let purposely = false;
    slot.close = () => {
      purposely = true;
      ws.terminate();
    };
  });
}

function connectSio(index: number, slot: Slot, resume = false): Promise<void> {
  const { spec } = slot;
  return new Promise((resolve, reject) => {
    const socket: Socket = io(spec.url, {
      auth: { token: spec.token, ...(resume && slot.cursor ? { since: slot.cursor } : {}) },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(spec.localAddress ? { localAddress: spec.localAddress } : {}),
    });
    socket.on('connect', () => resolve());
    socket.on('connect_error', (e) => reject(e));
    for (const event of ['message', 'direct_message']) {
      socket.on(event, (m: Message) => {
        noteCursor(slot, m.cursor);
        onMessage(index, m, nowMs(), 0);
      });
    }
    for (const event of ['resumed', 'reload']) socket.on(event, (d: { cursor?: unknown }) => noteCursor(slot, d.cursor));
    socket.on('disconnect', () => {
      if (!closing && !purposely) drops++;
    });
    let purposely = false;
    slot.close = () => {
      purposely = true;
      socket.disconnect();
    };
  });
}

const open = (index: number, slot: Slot, resume = false) =>
  slot.spec.kind === 'ws' ? connectWs(index, slot, resume) : connectSio(index, slot, resume);

/**
 * Closes `count` receivers picked at random and opens each again at once, resuming
 * from its last cursor where it has one (what it missed in between is replayed),
 * `concurrency` at a time.
 */
async function churn(count: number, concurrency: number): Promise<{ reopened: number; resumed: number; failed: number; errors: string[] }> {
  const picked = new Set<number>();
  while (picked.size < Math.min(count, slots.length)) picked.add(Math.floor(Math.random() * slots.length));
  const queue = [...picked];
  let reopened = 0;
  let resumed = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let i = queue.pop(); i !== undefined; i = queue.pop()) {
        const slot = slots[i] as Slot;
        slot.close();
        const resuming = slot.cursor !== undefined;
        try {
          await open(i, slot, true);
          reopened++;
          if (resuming) resumed++;
        } catch (e) {
          if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  return { reopened, resumed, failed: picked.size - reopened, errors };
}

async function connectAll(specs: ReceiverSpec[], concurrency: number): Promise<{ live: number; failed: number; errors: string[] }> {
  const base = slots.length;
  let next = 0;
  let live = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, specs.length) }, async () => {
      while (next < specs.length) {
        const i = next++;
        const spec = specs[i] as ReceiverSpec;
        const slot: Slot = { spec, close: () => undefined };
        slots[base + i] = slot;
        try {
          await open(base + i, slot);
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
    distinctPerReceiver: Array.from({ length: slots.length }, (_, i) => r.seen[i]?.size ?? 0),
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
    case 'churn':
      return churn(Number(req.count ?? 0), Number(req.concurrency ?? 20));
    case 'close':
      closing = true;
      for (const slot of slots.splice(0)) slot.close();
      return null;
    default:
      throw new Error(`unknown command ${String(req.cmd)}`);
  }
});
