import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nowMs } from '../stats.ts';
import { serveWorker } from '../worker.ts';
import { parseBenchContent } from './content.ts';

// The webhooks section's receiver, in a process of its own (started with
// startWorker): a node:http server on 127.0.0.1 that takes every delivery,
// notes when it arrived and what it was, and answers 204 at once. It does not
// verify signatures (the worker's tests do; here it would only add receiver
// CPU). The bench takes what arrived with `{cmd: 'take'}`.

/** One delivery as it arrived. */
export interface WebhookReceipt {
  /** Arrival of the whole body, epoch ms (nowMs: the bench's and the database's clock, one machine). */
  at: number;
  /** The event's id (`id`, also the `webhook-id` header). */
  eventId: string;
  webhookId: string;
  /** The message's `created_at` (the database's clock), epoch ms. */
  createdAt: number;
  /** From the message's bench content (`bm|<tag>|<n>|<sent at>|`); '' and NaN for any other message. */
  tag: string;
  n: number;
  sentAt: number;
}

/** What `take` answers: the receipts since the last take, and the bodies that were not a delivery as the bench expects one. */
export interface Taken {
  receipts: WebhookReceipt[];
  malformed: number;
}

interface Delivery {
  id?: unknown;
  webhook_id?: unknown;
  data?: { message?: { created_at?: unknown; content?: unknown } };
}

let receipts: WebhookReceipt[] = [];
let malformed = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const at = nowMs();
    res.writeHead(204).end();
    let body: Delivery;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Delivery;
    } catch {
      malformed++;
      return;
    }
    const message = body.data?.message;
    const createdAt = typeof message?.created_at === 'string' ? Date.parse(message.created_at) : Number.NaN;
    if (typeof body.id !== 'string' || typeof body.webhook_id !== 'string' || !Number.isFinite(createdAt)) {
      malformed++;
      return;
    }
    const bench = parseBenchContent(message?.content);
    receipts.push({
      at,
      eventId: body.id,
      webhookId: body.webhook_id,
      createdAt,
      tag: bench?.tag ?? '',
      n: bench?.seq ?? Number.NaN,
      sentAt: bench?.sentAt ?? Number.NaN,
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  serveWorker({ port: (server.address() as AddressInfo).port }, (request) => {
    if (request.cmd !== 'take') return Promise.reject(new Error(`unknown command ${String(request.cmd)}`));
    const taken: Taken = { receipts, malformed };
    receipts = [];
    malformed = 0;
    return Promise.resolve(taken);
  });
});
