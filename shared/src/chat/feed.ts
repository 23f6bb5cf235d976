import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { countVisibleAfter, isVisibleAt, logAfter, logHead, roomLogAfter, visibleAfter } from '../db/queries/messages.ts';
import { DomainError } from '../errors.ts';
import { deliveryFor } from '../events/publisher.ts';
import type { Delivery } from '../events/types.ts';
import type { Actor } from '../model/actor.ts';
import type { CursorCodec } from './cursor.ts';
import type { LogNumbering } from './numbering.ts';

/**
 * The delivery rules that read the commit-ordered log: what a gateway missed
 * (a lost publish, a Redis outage) and what a resuming connection missed.
 * Because a seq is only ever visible after every lower one, "everything after
 * seq N" read from PostgreSQL has no holes that could still fill in later.
 */
export interface Feed {
  cursors: CursorCodec;
  /** Numbers messages whose sender died before numbering them (older than `ageMs`). */
  numberStale(ageMs: number): Promise<void>;
  /** The last committed seq. */
  head(): Promise<number>;
  /** Every message after `seq`, in log order, addressed as the publisher addresses it. */
  after(seq: number, limit: number): Promise<Delivery[]>;
  /** One chat room's messages in (after, upTo], in log order, at most `limit`: what a new member's gateway routed before the join reached it. */
  roomAfter(roomId: string, after: number, upTo: number, limit: number): Promise<Delivery[]>;
  /** The position a resume cursor stands for, if `actor` may resume from it. */
  resumePoint(actor: Actor, cursor: string): Promise<number>;
  /** What `actor` may see in (after, upTo], in log order, at most `limit`. */
  missed(actor: Actor, after: number, upTo: number, limit: number): Promise<Delivery[]>;
  /** Whether more than `cap` messages are waiting for `actor` in (after, upTo]. */
  backlogExceeds(actor: Actor, after: number, upTo: number, cap: number): Promise<boolean>;
}

export function createFeed(deps: { db: Kysely<DB>; cursors: CursorCodec; numbering: LogNumbering }): Feed {
  const { db, cursors } = deps;
  return {
    cursors,
    numberStale: (ageMs) => deps.numbering.numberStale(ageMs),
    head: () => logHead(db),
    after: async (seq, limit) => (await logAfter(db, seq, limit)).map(deliveryFor),
    roomAfter: async (roomId, after, upTo, limit) => (await roomLogAfter(db, roomId, after, upTo, limit)).map(deliveryFor),

    async resumePoint(actor, cursor) {
      const position = cursors.decode(cursor, actor.id);
      // A message cursor is shared by everyone who got that message; one that
      // names a message this user may not see is someone else's.
      if (position.kind === 'message' && !(await isVisibleAt(db, actor.id, position.seq))) {
        throw new DomainError('invalid_cursor', 'invalid resume cursor; reconnect without one and reload history');
      }
      if (position.seq > (await logHead(db))) {
        throw new DomainError('invalid_cursor', 'resume cursor is ahead of the log; reconnect without one and reload history');
      }
      return position.seq;
    },

    missed: async (actor, after, upTo, limit) => (await visibleAfter(db, actor.id, after, upTo, limit)).map(deliveryFor),

    async backlogExceeds(actor, after, upTo, cap) {
      // Bounded: reads at most cap + 1 positions, whatever the real backlog.
      return (await countVisibleAfter(db, actor.id, after, upTo, cap + 1)) > cap;
    },
  };
}
