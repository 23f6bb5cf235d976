// Messages of one run: tagged with the run id (so other traffic on the cluster is
// ignored), and, in the load scenarios, with a stream/sequence number and the
// send time, so receivers can find gaps and measure send-to-receive latency.
//
//   [k6 <run id>] q=<stream>/<seq> t=<send time, ms since epoch> s=<stage> <free text>
//
// A stream is one sender's messages to one audience, numbered from 0 without
// gaps (a sender moves to the next number only once the previous one was stored),
// so a receiver that listened from the start lacks exactly the numbers it never
// got below the highest one it got.

/**
 * A message of this run, as far as isOurs() has checked it; messageShapeOk() checks the rest.
 * @typedef {{ content: string, [field: string]: unknown }} RunMessage
 */
/**
 * What tagContent() embedded.
 * @typedef {{ stream: string, seq: number, sentAt: number, stage: number | undefined }} MessageTag
 */

/** @param {string} runId */
export const marker = (runId) => `[k6 ${runId}]`;

/**
 * A message of this run (its content starts with the run's marker).
 * @param {string} runId
 * @param {unknown} message
 * @returns {message is RunMessage}
 */
export function isOurs(runId, message) {
  return (
    message !== null &&
    typeof message === 'object' &&
    'content' in message &&
    typeof message.content === 'string' &&
    message.content.startsWith(marker(runId))
  );
}

/** @param {RunMessage} message */
export function messageShapeOk(message) {
  return ['id', 'sender', 'content', 'created_at'].every((k) => typeof message[k] === 'string') && 'recipient' in message && 'room_id' in message;
}

/**
 * @param {string} runId
 * @param {string} stream letters, digits, `_` and `-` only
 * @param {number} seq
 * @param {number | undefined} [stage]
 * @param {string} [text]
 */
export function tagContent(runId, stream, seq, stage, text = '') {
  const stagePart = stage === undefined ? '' : ` s=${stage}`;
  return `${marker(runId)} q=${stream}/${seq} t=${Date.now()}${stagePart}${text ? ` ${text}` : ''}`;
}

const TAG = / q=([\w-]+)\/(\d+) t=(\d+)(?: s=(\d+))?/;

/**
 * @param {string} content
 * @returns {MessageTag | null}
 */
export function parseTag(content) {
  const m = TAG.exec(content);
  if (!m) return null;
  return { stream: m[1] ?? '', seq: Number(m[2]), sentAt: Number(m[3]), stage: m[4] === undefined ? undefined : Number(m[4]) };
}

/**
 * Send-to-receive latency in ms: from the send time embedded in the content when
 * there is one, else from `created_at` (stamped by the API when it stored the
 * row). Both need k6 and the cluster to share a clock (the same machine); a
 * remote cluster adds its clock skew to the second.
 * @param {RunMessage} message
 * @param {MessageTag | null} [tag]
 * @param {number} [receivedAt] when the frame arrived (default: now)
 * @returns {number | undefined}
 */
export function deliveryLatencyMs(message, tag, receivedAt = Date.now()) {
  const sentAt = tag === undefined ? parseTag(message.content)?.sentAt : tag?.sentAt;
  const from = sentAt ?? Date.parse(String(message.created_at));
  return Number.isNaN(from) ? undefined : Math.max(0, receivedAt - from);
}

/**
 * Per-sender sequence numbers (module state: one copy per VU). `next()` is the
 * number to put in the next message; `commit()` moves on once it was stored, so a
 * failed send reuses its number and receivers see no false gap.
 */
export class Sequences {
  constructor() {
    /** @type {Map<string, number>} */
    this.counters = new Map();
  }

  /** @param {string} stream */
  next(stream) {
    return this.counters.get(stream) ?? 0;
  }

  /** @param {string} stream */
  commit(stream) {
    this.counters.set(stream, this.next(stream) + 1);
  }
}

/**
 * What one receiver got: each message id once (duplicates counted), and per
 * stream the sequence numbers, for lost().
 */
export class DeliveryTracker {
  constructor() {
    /** @type {Set<string>} */
    this.ids = new Set();
    /** @type {Map<string, { max: number, seen: Set<number> }>} */
    this.streams = new Map();
    this.received = 0;
    this.duplicates = 0;
  }

  /**
   * Records a message; false when its id was seen before (a duplicate).
   * @param {RunMessage} message
   * @param {MessageTag | null} tag
   */
  see(message, tag) {
    const id = String(message.id);
    if (this.ids.has(id)) {
      this.duplicates++;
      return false;
    }
    this.ids.add(id);
    this.received++;
    if (tag) {
      let s = this.streams.get(tag.stream);
      if (!s) {
        s = { max: -1, seen: new Set() };
        this.streams.set(tag.stream, s);
      }
      s.seen.add(tag.seq);
      if (tag.seq > s.max) s.max = tag.seq;
    }
    return true;
  }

  /**
   * Numbers missing below the highest one received, over every stream seen;
   * valid for a receiver that listened from before each stream's first message.
   */
  lost() {
    let lost = 0;
    for (const s of this.streams.values()) lost += s.max + 1 - s.seen.size;
    return lost;
  }
}
