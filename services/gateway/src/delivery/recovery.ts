import type { EphemeralFrame, FrameListener, RouteHead, Router } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Intake } from './intake.ts';
import type { RoomSet } from './room-set.ts';
import type { Stream } from './stream.ts';

/**
 * Keeps this gateway's stream where routing stands: registrations with the
 * router, the lease, and the recovery that turns a forgotten registration (a
 * Redis restart or failover, a lease that ran out) or lost frames into a read
 * of the message log rather than a lost message.
 */
export interface Recovery {
  /** Listens on this gateway's channel, then registers and reads the log up to where routing starts. */
  start(): Promise<void>;
  /** Registers `rooms` and brings the stream to the position from which the router sends their messages here. */
  register(rooms: readonly string[]): Promise<void>;
  /** Renews the lease and moves the stream up to where routing stands; returns that head (undefined after a recovery). */
  sync(): Promise<RouteHead | undefined>;
  /** Resolves once the stream has reached `seq`: from where routing stands, else from the log. */
  reach(seq: number): Promise<void>;
  stop(): Promise<void>;
}

export function createRecovery(deps: {
  router: Router;
  gatewayId: string;
  /** Redis forgets a gateway that has not synced for this long, and stops routing to it. */
  leaseMs: number;
  stream: Stream;
  intake: Intake;
  /** Where ephemeral frames go, as they arrive: not numbered, so never held back or checked for loss. */
  ephemeral: (frame: EphemeralFrame) => void;
  rooms: RoomSet;
  logger: Logger;
}): Recovery {
  const { router, gatewayId: gateway, leaseMs, stream, intake, rooms, logger } = deps;
  let listener: FrameListener | undefined;
  let recovering: Promise<void> | undefined;
  let syncing: Promise<void> | undefined;
  let stopped = false;

  /**
   * Registers everything again and reads the log until it reaches the point
   * from which the router sends this gateway everything: at start, and after
   * Redis forgot the gateway. Frames that arrive meanwhile are held, so none
   * is applied ahead of the read.
   */
  function recover(reason: string): Promise<void> {
    recovering ??= (async () => {
      intake.hold();
      try {
        const head = await router.register(gateway, [...rooms.registered], leaseMs);
        // Routed means committed, so a read that starts after routing moved on
        // gets there; two reads in a row that find nothing new never will.
        let idleReads = 0;
        for (;;) {
          const from = stream.watermark;
          if (!(await stream.catchUp('recover'))) throw new Error('cannot read the message log');
          let next = (await router.sync(gateway, leaseMs))?.next ?? 0;
          // Nothing says where routing starts: this gateway has read the log up to its watermark.
          if (next === 0) next = await router.init(stream.watermark + 1);
          if (stream.watermark >= next - 1 || stopped) break;
          idleReads = stream.watermark === from ? idleReads + 1 : 0;
          if (idleReads === 2) {
            logger.warn({ next, watermark: stream.watermark }, 'routing stands past the end of the message log; going on from where the log ends');
            break;
          }
        }
        logger.info({ reason, rooms: rooms.registered.size, watermark: stream.watermark }, 'registered with the router');
        // Those numbered up to the registration were routed before it: the log read covered them.
        intake.release(head.g);
      } finally {
        recovering = undefined;
      }
    })();
    return recovering;
  }

  /** A recovery that failed (Redis away) is retried before anything else: frames wait until it succeeds. */
  async function settle() {
    if (recovering) await recovering;
    else if (intake.holding) await recover('retry');
  }

  /** Brings the stream to `head`: every frame routed here before it has arrived (or the log was read), and the watermark is at its `next`. */
  async function follow(head: RouteHead) {
    if (!(await intake.reach(head.g))) {
      // Subscribing again costs nothing if the subscription stands, and mends one that was lost.
      void listener?.renew().catch((error: unknown) => logger.warn({ err: error }, 'subscribing to the routed frames again failed'));
      await stream.catchUp('lost');
    }
    if (head.next > 0) await stream.advance(head.next - 1);
  }

  async function sync(): Promise<RouteHead | undefined> {
    await settle();
    const head = await router.sync(gateway, leaseMs);
    if (!head) {
      await recover('forgotten');
      return undefined;
    }
    await follow(head);
    return head;
  }

  /** One sync at a time for everyone who only waits for it (resumes). */
  function sharedSync(): Promise<void> {
    syncing ??= sync()
      .then(() => {})
      .finally(() => {
        syncing = undefined;
      });
    return syncing;
  }

  return {
    async start() {
      listener = await router.listen(gateway, {
        frame: (frame) => intake.take(frame),
        ephemeral: deps.ephemeral,
        malformed: () => logger.warn({ gateway }, 'dropped a malformed routed frame'),
      });
      await stream.start();
      await recover('start');
    },

    async register(list) {
      await settle();
      const head = await router.register(gateway, list, leaseMs);
      rooms.add(list);
      if (head.fresh) return recover('forgotten');
      await follow(head);
      if (head.next === 0) await recover('router not started');
    },

    sync,

    async reach(seq) {
      if (seq <= stream.watermark) return;
      await sharedSync();
      if (seq <= stream.watermark || stopped) return;
      // Routing has not got there yet (its publisher is slow or gone): read the log.
      await stream.catchUp('resume');
    },

    async stop() {
      stopped = true;
      intake.stop();
      await listener?.close();
      await router.unregister(gateway, [...rooms.registered], Number.MAX_SAFE_INTEGER).catch(() => {});
    },
  };
}
