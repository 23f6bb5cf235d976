import type { Feed } from '@chat/shared/chat';
import type { Delivery } from '@chat/shared/events';
import type { Metrics } from '@chat/shared/metrics';
import type { Actor } from '@chat/shared/model';
import type { DeliveryCore } from '../delivery/index.ts';

/** One connection being resumed, whatever its transport. */
export interface ResumeTarget {
  isOpen(): boolean;
  /** Frames one missed message. */
  send(delivery: Delivery): void;
  /** Resolves once the connection has taken what was sent (or has closed). */
  drained(): Promise<void>;
  /** Joins the connection's rooms. Called synchronously at the moment replay meets the live stream. */
  goLive(): void;
}

export type ResumeOutcome = { kind: 'resumed'; replayed: number; seq: number } | { kind: 'reload'; seq: number } | { kind: 'closed' };

export interface ResumeContext {
  feed: Feed;
  /** Where this gateway's stream stands, and how to wait until it has reached a cursor. */
  stream: Pick<DeliveryCore, 'watermark' | 'reach'>;
  /** `chat_resumes_total` by outcome and `chat_replayed_messages_total`. */
  metrics: Metrics;
  maxBacklog: number;
  pageSize: number;
}

/**
 * Replays what `actor` missed after `since` from PostgreSQL, page by page and
 * only as fast as the connection reads, then joins it to the live stream.
 * The join happens in the same tick as the check that replay has reached this
 * gateway's watermark, so no live delivery falls between the two and none is
 * sent twice: everything up to the watermark came from the log, everything
 * after it comes live.
 */
export async function resume(ctx: ResumeContext, actor: Actor, since: number, target: ResumeTarget): Promise<ResumeOutcome> {
  let outcome: ResumeOutcome;
  try {
    outcome = await replay(ctx, actor, since, target);
  } catch (error) {
    ctx.metrics.resumes.inc({ outcome: 'refused' });
    throw error;
  }
  ctx.metrics.resumes.inc({ outcome: outcome.kind });
  return outcome;
}

async function replay(ctx: ResumeContext, actor: Actor, since: number, target: ResumeTarget): Promise<ResumeOutcome> {
  const { feed, stream } = ctx;
  // This gateway may not have applied everything the cursor has seen yet;
  // going live before it has would deliver those messages a second time.
  await stream.reach(since);
  if (await feed.backlogExceeds(actor, since, stream.watermark, ctx.maxBacklog)) {
    if (!target.isOpen()) return { kind: 'closed' };
    target.goLive();
    return { kind: 'reload', seq: stream.watermark };
  }
  let last = since;
  let replayed = 0;
  for (;;) {
    if (!target.isOpen()) return { kind: 'closed' };
    const upTo = stream.watermark;
    if (last >= upTo) {
      target.goLive();
      return { kind: 'resumed', replayed, seq: upTo };
    }
    const page = await feed.missed(actor, last, upTo, ctx.pageSize);
    for (const delivery of page) target.send(delivery);
    replayed += page.length;
    ctx.metrics.replayedMessages.inc(page.length);
    last = page.length < ctx.pageSize ? upTo : (page.at(-1)?.seq ?? upTo);
    await target.drained();
  }
}
