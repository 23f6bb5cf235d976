import { createHmac, timingSafeEqual } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The worker's WEBHOOK_TIMEOUT in the suite's cluster: an answer later than this is an attempt the worker gave up on. */
export const WEBHOOK_TIMEOUT_MS = 2_000;
/** Signatures older or newer than this are refused, as docs/webhooks.md tells receivers to. */
const TOLERANCE_S = 300;
/**
 * Of the first arrivals of an event: answered 500 (the worker retries), answered 2xx only after the
 * worker's timeout (it retries a delivery the receiver took), answered 2xx slowly but in time.
 */
const REFUSE_SHARE = 0.02;
const LATE_SHARE = 0.0025;
const SLOW_SHARE = 0.01;
const SLOW_MS = 300;
/** At most one late answer per webhook in this long: the waits they cost never chain into one long one. */
const LATE_SPACING_MS = 10_000;
/** A held attempt (the worker-kill fault) is answered after this at the latest: within the worker's timeout. */
const HOLD_MAX_MS = 1_500;

/** How the receiver answered a delivery it took: at once, slowly (in time), after the worker's timeout, or held while its worker was killed. */
export type Answer = 'ok' | 'slow' | 'late' | 'held';

/** A delivery the receiver took (and answered 2xx, or would have: see `answer`). */
export interface Receipt {
  eventId: string;
  seq: number;
  type: string;
  conversation: string;
  at: number;
  /** The suite's phase when it arrived. */
  phase: string;
  answer: Answer;
}

/** One webhook the suite registered, and what its receiver got. */
export interface Hook {
  label: string;
  id: string;
  secret: string;
  ownerId: string;
  ownerLabel: string;
  events: string[];
  conversation: string | null;
  /** The webhook's cursor when it was made: it hears the log entries after this. */
  startSeq: number;
  /** Every delivery taken, in the order they arrived. */
  receipts: Receipt[];
  /** Attempts answered 500 on purpose. */
  refused: number;
  /** Event ids that arrived at least once (taken or refused): only a first arrival may be refused, answered late or slowly. */
  seen: Set<string>;
}

/** A delivery held unanswered so that its worker can be killed with the attempt in flight. */
export interface Held {
  hook: string;
  seq: number;
  eventId: string;
  /** The worker's end of the connection: which process sent it. */
  remotePort: number;
  /** Answers it (2xx), if its connection is still there. */
  release(): void;
}

type HookSpec = Omit<Hook, 'receipts' | 'refused' | 'seen'>;

/** Standard Webhooks verification, as docs/webhooks.md has it (no shared code: the suite checks the worker from outside). */
function verify(secret: string, headers: IncomingMessage['headers'], body: string, now: number): string | undefined {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return 'signature headers missing';
  if (!/^\d+$/.test(timestamp)) return `bad webhook-timestamp ${timestamp}`;
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_S) return `webhook-timestamp ${timestamp} outside ${TOLERANCE_S} s`;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'));
  const ok = signatures.split(' ').some((entry) => {
    const [version, signature = ''] = entry.split(',');
    const given = Buffer.from(signature);
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
  return ok ? undefined : 'signature does not verify';
}

interface Payload {
  id: string;
  type: string;
  seq: number;
  webhook_id: string;
  conversation: string;
  data: { message: { id: string } };
}

function parsePayload(body: string): Payload | undefined {
  try {
    const p = JSON.parse(body) as Partial<Payload>;
    if (typeof p.id !== 'string' || typeof p.type !== 'string' || typeof p.seq !== 'number' || typeof p.webhook_id !== 'string') return undefined;
    if (typeof p.conversation !== 'string' || typeof p.data?.message?.id !== 'string') return undefined;
    return p as Payload;
  } catch {
    return undefined;
  }
}

/**
 * The suite's webhook receiver: one node:http server on 127.0.0.1, a path
 * per webhook (`/hook/<label>`). It verifies every signature (a bad one is
 * answered 400 and fails the run), takes every delivery in arrival order,
 * and answers 2xx, except that a small share of first arrivals is answered
 * 500, or 2xx only after the worker's timeout (a delivery taken whose
 * attempt the worker counts failed: it sends it again), so that retries and
 * allowed duplicates happen under every fault.
 */
export class WebhookReceiver {
  readonly hooks = new Map<string, Hook>();
  /** Broken promises: bad signatures, payloads that contradict their webhook, unknown paths. */
  readonly problems: string[] = [];
  /** The suite's phases as they began, to tag receipts and log entries with theirs. */
  private readonly phases: Array<{ name: string; from: number }> = [{ name: 'setup', from: 0 }];
  private readonly server = createServer((req, res) => this.handle(req, res));
  private hold: ((held: Held) => void) | undefined;
  /** Per webhook, when it last got a late answer. */
  private readonly lastLate = new Map<string, number>();
  private port = 0;

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** From now on, receipts (and log entries written) belong to phase `name`. */
  setPhase(name: string): void {
    this.phases.push({ name, from: Date.now() });
  }

  /** The phase under way at `at`. */
  phaseAt(at: number): string {
    return this.phases.findLast((p) => p.from <= at)?.name ?? 'setup';
  }

  url(label: string): string {
    return `http://127.0.0.1:${this.port}/hook/${label}`;
  }

  add(spec: HookSpec): Hook {
    const hook: Hook = { ...spec, receipts: [], refused: 0, seen: new Set() };
    this.hooks.set(spec.label, hook);
    return hook;
  }

  /** Holds the next delivery (any webhook) unanswered and resolves with it; undefined if none comes within `timeoutMs`. */
  holdNext(timeoutMs: number): Promise<Held | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.hold = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.hold = (held) => {
        clearTimeout(timer);
        this.hold = undefined;
        resolve(held);
      };
    });
  }

  /** Which of `pids` (by name) has the worker's end of the connection from `remotePort` to this receiver, from /proc (Linux). */
  async senderOf(remotePort: number, pids: Map<string, number>): Promise<string | undefined> {
    const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
    const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
    const inode = table
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((f) => f[1]?.endsWith(`:${hex(remotePort)}`) && f[2]?.endsWith(`:${hex(this.port)}`))?.[9];
    if (inode === undefined) return undefined;
    for (const [name, pid] of pids) {
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === `socket:[${inode}]`) return name;
      }
    }
    return undefined;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => {}); // the worker that sent a held attempt was killed: its connection is gone
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => {});
    req.on('end', () => this.take(req, res, Buffer.concat(chunks).toString('utf8')));
  }

  private take(req: IncomingMessage, res: ServerResponse, body: string): void {
    const answer = (status: number) => {
      if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    };
    const label = /^\/hook\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    const hook = label === undefined ? undefined : this.hooks.get(label);
    if (req.method !== 'POST' || !hook) {
      this.problems.push(`${req.method ?? '?'} ${req.url ?? '?'}: no such webhook`);
      return answer(404);
    }
    const now = Date.now();
    const bad = verify(hook.secret, req.headers, body, now);
    const payload = parsePayload(body);
    if (bad || !payload) {
      this.problems.push(`${hook.label}: ${bad ?? 'not a webhook payload'} (webhook-id ${String(req.headers['webhook-id'])})`);
      return answer(400);
    }
    const contradiction =
      payload.id !== req.headers['webhook-id']
        ? `payload id ${payload.id} is not its webhook-id ${String(req.headers['webhook-id'])}`
        : payload.webhook_id !== hook.id
          ? `webhook_id ${payload.webhook_id}, not ${hook.id}`
          : !hook.events.includes(payload.type)
            ? `a ${payload.type} event, which it did not ask for`
            : hook.conversation !== null && payload.conversation !== hook.conversation
              ? `an event of ${payload.conversation}, not of ${hook.conversation}`
              : payload.type === 'message.created' && payload.data.message.id !== payload.id
                ? `message.created ${payload.id} carries message ${payload.data.message.id}`
                : undefined;
    if (contradiction) this.problems.push(`${hook.label}: ${contradiction} (seq ${payload.seq})`);

    const first = !hook.seen.has(payload.id);
    hook.seen.add(payload.id);
    const receipt = (how: Answer): Receipt => ({
      eventId: payload.id,
      seq: payload.seq,
      type: payload.type,
      conversation: payload.conversation,
      at: now,
      phase: this.phaseAt(now),
      answer: how,
    });
    const hold = this.hold;
    if (hold) {
      hook.receipts.push(receipt('held'));
      let answered = false;
      const release = () => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        answer(200);
      };
      const timer = setTimeout(release, HOLD_MAX_MS);
      hold({ hook: hook.label, seq: payload.seq, eventId: payload.id, remotePort: req.socket.remotePort ?? 0, release });
      return;
    }
    const roll = first ? Math.random() : 1;
    if (roll < REFUSE_SHARE) {
      hook.refused++;
      return answer(500);
    }
    if (roll < REFUSE_SHARE + LATE_SHARE && now - (this.lastLate.get(hook.label) ?? 0) > LATE_SPACING_MS) {
      this.lastLate.set(hook.label, now);
      hook.receipts.push(receipt('late'));
      setTimeout(() => answer(200), WEBHOOK_TIMEOUT_MS + 600);
      return;
    }
    if (roll < REFUSE_SHARE + LATE_SHARE + SLOW_SHARE) {
      hook.receipts.push(receipt('slow'));
      setTimeout(() => answer(200), SLOW_MS);
      return;
    }
    hook.receipts.push(receipt('ok'));
    answer(200);
  }
}
