/** How a receiver got a message: on the live stream, or replayed after reconnecting with `since`. */
export type Via = 'live' | 'replay';
export type SenderKind = 'rest' | 'ws' | 'io';

/** Where a message goes; `audience` names the receivers that must get it. */
export type Target =
  | { kind: 'global'; audience: string[] }
  | { kind: 'dm'; recipient: string; recipientId: string; audience: string[] }
  | { kind: 'room'; roomId: string; audience: string[] };

export interface SentMessage {
  key: string;
  phase: string;
  via: SenderKind;
  target: Target;
  content: string;
  firstAttemptAt: number;
  attempts: number;
  /** The last refusal or failure, when there was one. */
  lastFailure?: string;
  ackedAt?: number;
  id?: string;
  /** Receivers of the audience that have not got it yet. */
  waiting: Set<string>;
  /** When the last receiver of the audience got it. */
  completeAt?: number;
  /** The change the load made to it once acknowledged (an edit, a reaction, or its deletion), if any. */
  change?: { kind: 'edit' | 'delete' | 'react'; key: string; attempts: number; ackedAt?: number; lastFailure?: string };
}

/** A change entry of the log as the database has it, with the cursor that stands for it. */
export interface ExpectedChange {
  messageId: string;
  cursor: string;
}

/** What a receiver is entitled to see, to catch a delivery to the wrong audience. */
export interface ReceiverProfile {
  name: string;
  username: string;
  rooms: Set<string>;
}

interface Receipt {
  count: number;
  via: Via;
  at: number;
  phase: string;
}

export interface DeliveredMessage {
  id: string;
  content: string;
  sender: string;
  recipient: string | null;
  room_id: string | null;
}

/** Content is `fault:<phase>:<key>`; the phase is read back from what receivers get. */
const contentPrefix = (phase: string) => `fault:${phase}:`;
const phaseOf = (content: string) => (content.startsWith('fault:') ? (content.split(':')[1] ?? '?') : '(other)');

/** Every message the senders tried, and every message each receiver got. */
export class Tracker {
  readonly sent: SentMessage[] = [];
  readonly anomalies: Array<{ at: number; receiver: string; what: string }> = [];
  readonly misdelivered: Array<{ at: number; receiver: string; id: string; content: string }> = [];
  private readonly byId = new Map<string, SentMessage>();
  private readonly profiles = new Map<string, ReceiverProfile>();
  private readonly receipts = new Map<string, Map<string, Receipt>>();
  /** Per receiver: the change entries it got, by cursor (each entry's cursor is its own log position). */
  private readonly changeReceipts = new Map<string, Map<string, { count: number; at: number }>>();
  /** Change entries a receiver got before the message they change: out of log order. */
  readonly early: Array<{ at: number; receiver: string; id: string }> = [];
  /** The last acknowledged read position of each user in each conversation (`<user id> <conversation>`), and in which phase. */
  readonly reads = new Map<string, { userId: string; conversation: string; messageId: string; phase: string }>();
  /** Acknowledged read marks per phase. */
  readonly readMarks = new Map<string, number>();

  /** A read mark was acknowledged with the position `messageId`: positions only move forward, so this one is the latest. */
  readAcked(phase: string, userId: string, conversation: string, messageId: string): void {
    this.reads.set(`${userId} ${conversation}`, { userId, conversation, messageId, phase });
    this.readMarks.set(phase, (this.readMarks.get(phase) ?? 0) + 1);
  }

  addReceiver(profile: ReceiverProfile): void {
    this.profiles.set(profile.name, profile);
    this.receipts.set(profile.name, new Map());
    this.changeReceipts.set(profile.name, new Map());
  }

  begin(phase: string, via: SenderKind, target: Target, key: string): SentMessage {
    const message: SentMessage = {
      key,
      phase,
      via,
      target,
      content: `${contentPrefix(phase)}${key}`,
      firstAttemptAt: Date.now(),
      attempts: 0,
      waiting: new Set(),
    };
    this.sent.push(message);
    return message;
  }

  acked(message: SentMessage, id: string): void {
    message.ackedAt = Date.now();
    message.id = id;
    this.byId.set(id, message);
    let last = 0;
    for (const receiver of message.target.audience) {
      const receipt = this.receipts.get(receiver)?.get(id);
      if (receipt) last = Math.max(last, receipt.at);
      else message.waiting.add(receiver);
    }
    if (message.waiting.size === 0) message.completeAt = last;
  }

  received(receiver: string, message: DeliveredMessage, via: Via): void {
    const mine = this.receipts.get(receiver);
    const profile = this.profiles.get(receiver);
    if (!mine || !profile) return;
    const earlier = mine.get(message.id);
    if (earlier) {
      earlier.count++;
      return;
    }
    const at = Date.now();
    // By the id once acknowledged: a replayed message carries its content as it is now (a deletion's is empty).
    mine.set(message.id, { count: 1, via, at, phase: this.byId.get(message.id)?.phase ?? phaseOf(message.content) });
    if (!this.entitled(profile, message)) this.misdelivered.push({ at, receiver, id: message.id, content: message.content.slice(0, 60) });
    const sent = this.byId.get(message.id);
    if (sent?.waiting.delete(receiver) && sent.waiting.size === 0) sent.completeAt = at;
  }

  /** A `message_updated` or `message_deleted` a receiver got, with its cursor. */
  changeReceived(receiver: string, message: DeliveredMessage, cursor: string): void {
    const mine = this.changeReceipts.get(receiver);
    if (!mine) return;
    const earlier = mine.get(cursor);
    if (earlier) {
      earlier.count++;
      return;
    }
    const at = Date.now();
    mine.set(cursor, { count: 1, at });
    if (!this.receipts.get(receiver)?.has(message.id)) this.early.push({ at, receiver, id: message.id });
  }

  /**
   * For the change entries the log holds for a phase's messages: how many a
   * receiver of the message's audience still lacks, and how many it got more
   * than once.
   */
  changeStats(expected: ExpectedChange[]): { missing: Array<{ messageId: string; receivers: string[] }>; duplicated: number } {
    const missing: Array<{ messageId: string; receivers: string[] }> = [];
    let duplicated = 0;
    for (const change of expected) {
      const audience = this.byId.get(change.messageId)?.target.audience ?? [];
      const lacking = audience.filter((receiver) => !this.changeReceipts.get(receiver)?.has(change.cursor));
      if (lacking.length > 0) missing.push({ messageId: change.messageId, receivers: lacking });
      for (const receiver of audience) duplicated += Math.max(0, (this.changeReceipts.get(receiver)?.get(change.cursor)?.count ?? 0) - 1);
    }
    return { missing, duplicated };
  }

  anomaly(receiver: string, what: string): void {
    this.anomalies.push({ at: Date.now(), receiver, what });
  }

  /** Acknowledged messages some receiver of their audience still lacks. */
  incomplete(phase?: string): SentMessage[] {
    return this.sent.filter((m) => m.ackedAt !== undefined && m.waiting.size > 0 && (phase === undefined || m.phase === phase));
  }

  /** Receivers of `message` that got it more than `lateMs` after its acknowledgement, with how (live or replayed). */
  lateAt(message: SentMessage, lateMs: number): Array<{ receiver: string; via: Via; lateMs: number }> {
    if (message.id === undefined || message.ackedAt === undefined) return [];
    const out: Array<{ receiver: string; via: Via; lateMs: number }> = [];
    for (const receiver of message.target.audience) {
      const receipt = this.receipts.get(receiver)?.get(message.id);
      if (receipt && receipt.at - message.ackedAt > lateMs) out.push({ receiver, via: receipt.via, lateMs: receipt.at - message.ackedAt });
    }
    return out;
  }

  /** Per phase: deliveries of one message id to one receiver beyond the first, and deliveries by replay. */
  receiptStats(phase: string): { duplicated: number; replayed: number } {
    let duplicated = 0;
    let replayed = 0;
    for (const mine of this.receipts.values()) {
      for (const receipt of mine.values()) {
        if (receipt.phase !== phase) continue;
        if (receipt.count > 1) duplicated += receipt.count - 1;
        if (receipt.via === 'replay') replayed++;
      }
    }
    return { duplicated, replayed };
  }

  private entitled(profile: ReceiverProfile, m: DeliveredMessage): boolean {
    if (m.room_id !== null) return profile.rooms.has(m.room_id);
    if (m.recipient !== null) return m.recipient === profile.username || m.sender === profile.username;
    return true;
  }
}
