import type { Feed } from '@chat/shared/chat';
import { DomainError } from '@chat/shared/errors';
import { parseFrame, type Frame, type RouteHead, type RedisRouter as Router } from '@chat/shared/events';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { RedisClient } from '@chat/shared/connections';
import type { Sequencer } from './sequencer.ts';

export interface Routes {
  /** Subscribes to this gateway's channel, registers with the router and reads the log up to where routing stands. */
  start(): Promise<void>;
  /** Keeps `rooms` registered until the returned function is called (a connection's lifetime). */
  pin(rooms: readonly string[]): () => void;
  /**
   * Resolves once `rooms` are registered and the stream has reached the
   * position from which the router sends their messages here, so a
   * connection that joins them now misses nothing.
   */
  ready(rooms: readonly string[]): Promise<void>;
  /**
   * `pin` then `ready`, for a connection being accepted: its rooms stay
   * registered until `closed` fires. Done before the connection is accepted,
   * so the post-accept revocation re-check reads Redis after the router
   * already sends the user's events here. Fails with `unavailable`.
   */
  open(rooms: readonly string[], closed: (release: () => void) => void): Promise<void>;
  /** Learns where routing stands and advances the stream to it (see Sequencer.reach). */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

export interface RoutesDeps {
  router: Router;
  /** A connection of its own: it only listens. */
  subscriber: RedisClient;
  gatewayId: string;
  /** Redis forgets a gateway that has not synced for this long, and stops routing to it. */
  leaseMs: number;
  /** How long a frame the router numbered for us may take to arrive before it counts as lost. */
  gapWaitMs: number;
  pollIntervalMs: number;
  sequencer: Sequencer;
  feed: Feed;
  /** Whether a local connection of either kind is in `room`. */
  inUse(room: string): boolean;
  /** A frame in channel order, after the lost-frame check. Membership joins add their room at once (see `adopt`). */
  onFrame(frame: Frame, adopt: (room: string) => () => void): void;
  logger: Logger;
  metrics: Metrics;
}

/** Messages routed from the log per watchdog turn when routing is stuck. */
const FILL_PAGE = 500;
/** A message stored this long ago without a log number lost its sender before numbering: number it here. */
const ORPHAN_AGE_MS = 1_000;

/**
 * This gateway's side of targeted fan-out (shared/src/events/router.ts): the
 * rooms it registers, the frames that arrive on its channel, and the checks
 * that turn a lost frame, a forgotten registration or a stuck router into a
 * read of the message log rather than a lost message.
 */
export function createRoutes(deps: RoutesDeps): Routes {
  const { router, sequencer, feed, logger, metrics, gatewayId: gateway } = deps;
  const registered = new Set<string>();
  const pins = new Map<string, number>();
  const inflight = new Map<string, Promise<void>>();
  let batch: Set<string> | undefined;
  let batchDone: Promise<void> | undefined;
  /** The last frame number taken in; frames arrive in order, so a jump means frames were lost. */
  let lastG = 0;
  let gWaiters: Array<{ g: number; resolve: () => void }> = [];
  /** Frames that arrive while a recovery decides where this gateway's stream starts. */
  let held: Frame[] | undefined;
  let recovering: Promise<void> | undefined;
  let syncing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastNext = -1;
  let stopped = false;
  const channel = router.channel(gateway);

  function take(frame: Frame) {
    if (frame.g <= lastG) {
      // The count went back: a replica promoted before it had the master's last
      // increments. Frames numbered in between may never come; read the log.
      logger.warn({ last: lastG, got: frame.g }, "the router's frame count went back (a Redis failover); reading the message log");
      void sequencer.catchUp('lost');
    } else if (frame.g > lastG + 1) {
      metrics.lostFrames.inc(frame.g - lastG - 1);
      logger.warn({ expected: lastG + 1, got: frame.g }, 'routed frames were lost; reading the message log');
      void sequencer.catchUp('lost');
    }
    lastG = frame.g;
    settleGWaiters();
    metrics.clusterEventsReceived.inc({ event: frame.event });
    deps.onFrame(frame, adopt);
  }

  function onMessage(ch: string, raw: string) {
    if (ch !== channel) return;
    const frame = parseFrame(raw);
    if (!frame) return logger.warn({ channel }, 'dropped a malformed routed frame');
    if (held) held.push(frame);
    else take(frame);
  }

  function settleGWaiters() {
    if (gWaiters.length === 0) return;
    const reached = gWaiters.filter((w) => w.g <= lastG);
    gWaiters = gWaiters.filter((w) => w.g > lastG);
    for (const w of reached) w.resolve();
  }

  /** Whether every frame numbered up to `g` has arrived within the gap wait; if not, the missing ones count as lost. */
  async function framesReach(g: number): Promise<void> {
    if (g <= lastG) return;
    let timeout: NodeJS.Timeout | undefined;
    const arrived = await new Promise<boolean>((resolve) => {
      gWaiters.push({ g, resolve: () => resolve(true) });
      timeout = setTimeout(() => resolve(false), deps.gapWaitMs);
    });
    clearTimeout(timeout);
    if (arrived || g <= lastG) return;
    metrics.lostFrames.inc(g - lastG);
    logger.warn({ expected: g, got: lastG }, 'routed frames did not arrive; reading the message log');
    lastG = g;
    settleGWaiters();
    // Subscribing again costs nothing if the subscription stands, and mends one that was lost.
    void deps.subscriber.subscribe(channel);
    await sequencer.catchUp('lost');
  }

  function adopt(room: string): () => void {
    registered.add(room);
    return pin([room]);
  }

  function pin(list: readonly string[]): () => void {
    // A copy: the caller's list may change (TokenHolder.rooms) before the release.
    const rooms = [...list];
    for (const room of rooms) pins.set(room, (pins.get(room) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const room of rooms) {
        const left = (pins.get(room) ?? 1) - 1;
        if (left > 0) pins.set(room, left);
        else pins.delete(room);
      }
    };
  }

  /**
   * Registers everything again and reads the log until it reaches the point
   * from which the router sends this gateway everything: after Redis forgot
   * the gateway (a restart, a failover, a lease that ran out), and at start.
   * Frames that arrive meanwhile wait, so none is applied ahead of the read.
   */
  function recover(reason: string): Promise<void> {
    recovering ??= (async () => {
      held ??= [];
      try {
        const head = await router.register(gateway, [...registered], deps.leaseMs);
        lastG = head.g;
        for (;;) {
          await sequencer.catchUp('recover');
          let next = (await router.sync(gateway, deps.leaseMs))?.next ?? 0;
          // Nothing says where routing starts: this gateway has read the log up to its watermark.
          if (next === 0) next = await router.init(sequencer.watermark + 1);
          if (sequencer.watermark >= next - 1 || stopped) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        logger.info({ reason, rooms: registered.size, watermark: sequencer.watermark }, 'registered with the router');
        const waiting = held;
        held = undefined;
        // Those numbered up to the registration were routed before it: the log read covered them.
        for (const frame of waiting) if (frame.g > head.g) take(frame);
      } finally {
        recovering = undefined;
      }
    })();
    return recovering;
  }

  async function register(rooms: string[]) {
    if (recovering) await recovering;
    else if (held) await recover('retry');
    const head = await router.register(gateway, rooms, deps.leaseMs);
    for (const room of rooms) registered.add(room);
    if (head.fresh) return recover('forgotten');
    await framesReach(head.g);
    if (head.next > 0) await sequencer.advance(head.next - 1);
    else await recover('router not started');
  }

  function ready(rooms: readonly string[]): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const room of rooms) {
      const pending = inflight.get(room);
      if (pending) waits.push(pending);
      else if (!registered.has(room)) {
        // Registrations made in one turn of the event loop go to Redis as one call.
        if (!batch) {
          const rooms = (batch = new Set());
          batchDone = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
            batch = undefined;
            return register([...rooms]).finally(() => {
              for (const r of rooms) inflight.delete(r);
            });
          });
        }
        batch.add(room);
        inflight.set(room, batchDone as Promise<void>);
        waits.push(batchDone as Promise<void>);
      }
    }
    return waits.length === 0 ? Promise.resolve() : Promise.all(waits).then(() => {});
  }

  function sync(): Promise<void> {
    syncing ??= (async () => {
      try {
        await syncHead();
      } finally {
        syncing = undefined;
      }
    })();
    return syncing;
  }

  /** Renews the lease and moves the stream up to where routing stands; returns that head (undefined after a recovery). */
  async function syncHead(): Promise<RouteHead | undefined> {
    // A recovery that failed (Redis away) is retried first: frames wait until it succeeds.
    if (recovering) await recovering;
    else if (held) await recover('retry');
    const head = await router.sync(gateway, deps.leaseMs);
    if (!head) {
      await recover('forgotten');
      return undefined;
    }
    await framesReach(head.g);
    if (head.next > 0) await sequencer.advance(head.next - 1);
    return head;
  }

  /**
   * Routing waits for a seq whose publisher died between numbering and
   * routing, or a last publish was lost: route it (and what follows) from the
   * log. Only when routing did not move since the last turn, so a busy
   * cluster pays nothing for it.
   */
  async function watchdog(head: RouteHead) {
    if (head.next === 0) return;
    const stuck = head.next === lastNext;
    lastNext = head.next;
    if (!stuck) return;
    if (head.held === 0 && (await feed.head()) < head.next) return;
    // Page after page until the log's end: a large backlog (messages stored by
    // something that does not publish) must not take one poll per page. The
    // calls of a page go out pipelined; ROUTE puts them in order and drops
    // what another gateway's watchdog routed first.
    let from = head.next - 1;
    let routed = 0;
    for (let page = await feed.after(from, FILL_PAGE); page.length > 0 && !stopped; page = await feed.after(from, FILL_PAGE)) {
      await Promise.all(page.map((delivery) => router.route(delivery)));
      routed += page.length;
      from = page.at(-1)?.seq ?? from;
      if (page.length < FILL_PAGE) break;
    }
    if (routed > 0) logger.info({ from: head.next, count: routed }, 'routed messages from the log that their publisher did not route');
  }

  /** Rooms no local connection needs any more stop being routed here. */
  async function sweep() {
    const unused = [...registered].filter((room) => !pins.has(room) && !inflight.has(room) && !deps.inUse(room));
    if (unused.length === 0) return;
    for (const room of unused) registered.delete(room);
    try {
      await router.unregister(gateway, unused, lastG);
    } catch (error) {
      // Still routed here: the next sweep tries again.
      for (const room of unused) if (!registered.has(room)) registered.add(room);
      throw error;
    }
  }

  async function tick() {
    try {
      await feed.numberStale(ORPHAN_AGE_MS);
    } catch (error) {
      logger.warn({ err: error }, 'numbering orphaned messages failed; retrying on the next poll');
    }
    let head: RouteHead | undefined;
    try {
      head = await syncHead();
    } catch (error) {
      // Redis is away: nothing is routed, so this gateway reads the whole log
      // instead, every poll, until Redis answers again (and then knows it or not).
      logger.warn({ err: error }, 'cannot reach the router; reading the message log');
      await sequencer.catchUp('outage');
      return;
    }
    try {
      if (head) await watchdog(head);
      await sweep();
    } catch (error) {
      logger.warn({ err: error }, 'routing upkeep failed; retrying on the next poll');
    }
  }

  return {
    async start() {
      deps.subscriber.on('message', onMessage);
      // Ready (ioredis's INFO check done) before it turns subscriber: a SUBSCRIBE
      // sent first makes that check fail, and the channel is never heard.
      await deps.subscriber.ping();
      await deps.subscriber.subscribe(channel);
      await sequencer.start();
      await recover('start');
      timer = setInterval(() => void tick(), deps.pollIntervalMs);
      timer.unref();
    },
    pin,
    ready,
    async open(rooms, closed) {
      const release = pin(rooms);
      closed(release);
      try {
        await ready(rooms);
      } catch (error) {
        release();
        throw new DomainError('unavailable', 'cannot subscribe to your rooms right now; try again', undefined, error);
      }
    },
    sync,
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const w of gWaiters.splice(0)) w.resolve();
      deps.subscriber.off('message', onMessage);
      await router.unregister(gateway, [...registered], Number.MAX_SAFE_INTEGER).catch(() => {});
    },
  };
}
