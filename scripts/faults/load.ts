import { markRead, type ChangeRequest, type MessageBody } from './rest.ts';
import type { SentMessage, Target, Tracker } from './tracker.ts';
import { ACK_TIMEOUT_MS, type SendTransport } from './transport.ts';

/** Who can be addressed: receivers (for direct messages) and rooms, with the receivers each must reach. */
export interface Addressing {
  receivers: Array<{ name: string; username: string; id: string }>;
  rooms: Array<{ id: string; audience: string[] }>;
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** Acknowledged messages the load then changes: half edited, a third of the rest reacted to, the others deleted. */
const CHANGE_SHARE = 0.3;
/** Acknowledged messages their sender then marks read (over REST, whatever it sent with): the positions must survive every fault. */
const READ_SHARE = 0.3;

/** The conversation of a message as its sender names it. */
function conversationOf(t: Target): string {
  if (t.kind === 'dm') return `user:${t.recipientId}`;
  return t.kind === 'room' ? `room:${t.roomId}` : 'global';
}

/** Mostly global messages, some direct messages to one receiver, some room messages. */
function pickTarget(a: Addressing): Target {
  const roll = Math.random();
  if (roll < 0.25) {
    const to = pick(a.receivers);
    return { kind: 'dm', recipient: to.username, recipientId: to.id, audience: [to.name] };
  }
  if (roll < 0.4 && a.rooms.length > 0) {
    const room = pick(a.rooms);
    return { kind: 'room', roomId: room.id, audience: room.audience };
  }
  return { kind: 'global', audience: a.receivers.map((r) => r.name) };
}

function bodyOf(m: SentMessage): MessageBody {
  const t = m.target;
  if (t.kind === 'dm') return { content: m.content, recipient: t.recipient };
  if (t.kind === 'room') return { content: m.content, room_id: t.roomId };
  return { content: m.content };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Steady load: every sender sends one message at a time, then pauses. A
 * failed or unanswered attempt is retried with the same key (after the
 * server's Retry-After, at most 1 s) until acknowledged or the deadline.
 */
export class Load {
  private running = false;
  private loops: Array<Promise<void>> = [];
  private readonly senders: SendTransport[];
  private readonly addressing: Addressing;
  private readonly tracker: Tracker;
  private readonly opts: { intervalMs: number; deadlineMs: number };

  constructor(senders: SendTransport[], addressing: Addressing, tracker: Tracker, opts: { intervalMs: number; deadlineMs: number }) {
    this.senders = senders;
    this.addressing = addressing;
    this.tracker = tracker;
    this.opts = opts;
  }

  start(phase: string): void {
    this.running = true;
    this.loops = this.senders.map((sender) => this.loop(sender, phase));
  }

  /** Starts nothing new and resolves once every message in flight is acknowledged or given up. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(sender: SendTransport, phase: string) {
    // Senders start out of step with one another.
    await sleep(Math.random() * this.opts.intervalMs);
    while (this.running) {
      const message = this.tracker.begin(phase, sender.kind, pickTarget(this.addressing), crypto.randomUUID());
      await this.deliver(sender, message);
      if (message.id !== undefined && Math.random() < CHANGE_SHARE) await this.change(sender, message, message.id);
      if (message.id !== undefined && Math.random() < READ_SHARE) await this.markRead(sender, message, message.id, phase);
      await sleep(this.opts.intervalMs * (0.5 + Math.random()));
    }
  }

  /** Edits, reacts to or deletes the acknowledged `message`, the same way as a send: retried with its key until answered or the deadline. */
  private async change(sender: SendTransport, message: SentMessage, id: string) {
    const roll = Math.random();
    const request: ChangeRequest =
      roll < 0.5
        ? { kind: 'edit', id, content: `${message.content}~edited` }
        : roll < 0.8
          ? { kind: 'react', id, emoji: '👍' }
          : { kind: 'delete', id };
    const change: NonNullable<SentMessage['change']> = { kind: request.kind, key: crypto.randomUUID(), attempts: 0 };
    message.change = change;
    const deadline = Date.now() + this.opts.deadlineMs;
    for (;;) {
      change.attempts++;
      const attempt = await sender.change(request, change.key);
      if (attempt.ok) {
        change.ackedAt = Date.now();
        return;
      }
      change.lastFailure = attempt.reason;
      if (Date.now() > deadline) return;
      await sleep(Math.min(Math.max(attempt.retryAfterMs ?? 0, 200), 1_000) * (0.75 + Math.random() / 2));
    }
  }

  /** Marks the conversation read up to the sender's own acknowledged message, retried until answered or the deadline. */
  private async markRead(sender: SendTransport, message: SentMessage, id: string, phase: string) {
    const conversation = conversationOf(message.target);
    const deadline = Date.now() + this.opts.deadlineMs;
    for (;;) {
      const attempt = await markRead(sender.user, conversation, id, ACK_TIMEOUT_MS);
      if (attempt.ok) return this.tracker.readAcked(phase, sender.user.id, conversation, attempt.id);
      if (Date.now() > deadline) return;
      await sleep(Math.min(Math.max(attempt.retryAfterMs ?? 0, 200), 1_000) * (0.75 + Math.random() / 2));
    }
  }

  private async deliver(sender: SendTransport, message: SentMessage) {
    const deadline = message.firstAttemptAt + this.opts.deadlineMs;
    for (;;) {
      message.attempts++;
      const attempt = await sender.send(bodyOf(message), message.key);
      if (attempt.ok) return this.tracker.acked(message, attempt.id);
      message.lastFailure = attempt.reason;
      if (Date.now() > deadline) return;
      await sleep(Math.min(Math.max(attempt.retryAfterMs ?? 0, 200), 1_000) * (0.75 + Math.random() / 2));
    }
  }
}
