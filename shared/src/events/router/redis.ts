import type { Logger } from '../../logger.ts';
import type { Metrics } from '../../metrics/index.ts';
import { defineScript, type RedisClient, type RedisScript } from '../../redis.ts';
import { hearFrame } from './frame.ts';
import { ROUTER_SCRIPTS, type RouterScript } from './scripts.ts';
import type { Router, RouteOutcome } from './types.ts';

/*
 * The router in Redis: one script per operation (lua/), every routing
 * decision atomic with the registrations it reads. All its keys share the
 * hash tag `{fanout}`, so on a Redis Cluster they live on one master. Each
 * script declares in KEYS the keys its caller knows (next, held, the gateway's
 * hash, the room sets it names); the ones a script finds on its way (the hashes
 * of the gateways in a room set, the room sets of held messages) it builds
 * from the same tagged base, so they are in the declared keys' slot.
 *
 * The scripts are sent once per connection: ioredis's defineCommand sends
 * EVALSHA, and EVAL (which loads the script) on the first call on a connection
 * or when Redis answers NOSCRIPT (a restart, SCRIPT FLUSH, a failover).
 */

/** Messages held at most by default: while no gateway runs (so none says where routing starts), Redis must not fill up. */
export const DEFAULT_MAX_HELD = 10_000;

/**
 * Rooms per EPHEMERAL call at most: a larger audience (a user with thousands
 * of contacts) goes out in several calls, so no one call holds Redis long.
 */
export const EPHEMERAL_ROOMS_PER_CALL = 1_000;

/** The keys and channels of one deployment (Redis prefix); they share a hash tag, so a cluster keeps the keys on one master. */
export const routerKeys = (prefix: string) => {
  const base = `${prefix}{fanout}:`;
  return {
    base,
    next: `${base}next`,
    held: `${base}held`,
    /** The set of the gateways registered for `room`. */
    room: (room: string) => `${base}room:${room}`,
    /** A gateway's hash: its frame count `g`, `a:<room>` for rooms CONTROL added, its lease as the TTL. */
    gateway: (gateway: string) => `${base}gw:${gateway}`,
    /** The channel a gateway's frames arrive on. */
    channel: (gateway: string) => `${base}to:${gateway}`,
  };
};

export interface RedisRouterOptions {
  /** A connection used only to subscribe (it turns subscriber on the first `listen`); `listen` needs it. */
  subscriber?: RedisClient;
  /** Counts every ROUTE outcome (`chat_route_outcomes_total`), and the ephemeral events routed and the frames they took when given those families. */
  metrics?: Pick<Metrics, 'routeOutcomes'> & Partial<Pick<Metrics, 'ephemeralRouted' | 'ephemeralRoutedFrames'>>;
  /** Hears when the held cap is reached (and when it is not any more). */
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Messages held in Redis at most, waiting for a lower seq (default DEFAULT_MAX_HELD); past it ROUTE answers held_full. */
  maxHeld?: number;
}

export interface RedisRouter extends Router {
  /** The channel a gateway's frames arrive on. */
  channel(gateway: string): string;
}

/** ROUTE's return codes, by value. */
const OUTCOMES: readonly RouteOutcome[] = ['stale', 'held', 'routed', 'held_full'];

/** The scripts as commands of `redis` (defineScript: EVALSHA, and on a cluster a pipeline per call). */
function scriptsOf(redis: RedisClient): Record<RouterScript, RedisScript> {
  const entries = Object.entries(ROUTER_SCRIPTS) as Array<[RouterScript, string]>;
  return Object.fromEntries(entries.map(([script, lua]) => [script, defineScript(redis, `chatRouter_${script}`, lua)])) as Record<
    RouterScript,
    RedisScript
  >;
}

const numberOf = (value: unknown) => Number(value ?? 0);

/** Listeners per channel on each subscriber connection: a channel is unsubscribed when its last listener closes. */
const listening = new WeakMap<RedisClient, Map<string, number>>();

export function createRedisRouter(redis: RedisClient, prefix: string, opts: RedisRouterOptions = {}): RedisRouter {
  const keys = routerKeys(prefix);
  const scripts = scriptsOf(redis);
  const maxHeld = String(opts.maxHeld ?? DEFAULT_MAX_HELD);
  const payload = (event: string, data: unknown) => JSON.stringify({ event, data });
  /** Messages refused since the held cap was reached (undefined: it is not), so the log says it once, not per message. */
  let refused: number | undefined;

  function counted(outcome: RouteOutcome, seq: number) {
    opts.metrics?.routeOutcomes.inc({ outcome });
    if (outcome === 'held_full') {
      if (refused === undefined) {
        opts.logger?.warn({ seq, maxHeld: Number(maxHeld) }, 'the router holds as many messages as it may; the gateways route the rest from the log');
      }
      refused = (refused ?? 0) + 1;
    } else if (refused !== undefined) {
      opts.logger?.info({ refused }, 'the router holds messages again (below its cap)');
      refused = undefined;
    }
  }

  return {
    async route(delivery) {
      const code = await scripts.route(
        [keys.next, keys.held, ...delivery.rooms.map(keys.room)],
        [String(delivery.seq), maxHeld, payload('deliver', delivery)],
      );
      const outcome = OUTCOMES[numberOf(code)];
      if (outcome === undefined) throw new Error(`ROUTE answered ${String(code)}`);
      counted(outcome, delivery.seq);
      return outcome;
    },
    async init(seq) {
      return numberOf(await scripts.init([keys.next, keys.held], [String(seq)]));
    },
    async control(room, event, data, addRoom) {
      const body = payload(event, data);
      if (addRoom) await scripts.control([keys.next, keys.room(room), keys.room(addRoom)], [body, addRoom]);
      else await scripts.control([keys.next, keys.room(room)], [body]);
    },
    async ephemeral(rooms, event, data) {
      const body = payload(event, data);
      const unique = [...new Set(rooms)];
      const calls: Array<Promise<unknown>> = [];
      for (let at = 0; at < unique.length; at += EPHEMERAL_ROOMS_PER_CALL) {
        const part = unique.slice(at, at + EPHEMERAL_ROOMS_PER_CALL);
        calls.push(scripts.ephemeral(part.map(keys.room), [body, ...part]));
      }
      const frames = (await Promise.all(calls)).reduce<number>((sum, sent) => sum + numberOf(sent), 0);
      opts.metrics?.ephemeralRouted?.inc({ event });
      opts.metrics?.ephemeralRoutedFrames?.inc({ event }, frames);
      return frames;
    },
    async register(gateway, rooms, leaseMs) {
      const [next, g, fresh, held] = (await scripts.register(
        [keys.next, keys.held, keys.gateway(gateway), ...rooms.map(keys.room)],
        [gateway, String(leaseMs)],
      )) as unknown[];
      return { next: numberOf(next), g: numberOf(g), fresh: numberOf(fresh) === 1, held: numberOf(held) };
    },
    async unregister(gateway, rooms, seenG) {
      if (rooms.length === 0) return;
      await scripts.unregister([keys.gateway(gateway), ...rooms.map(keys.room)], [gateway, String(seenG), ...rooms]);
    },
    async sync(gateway, leaseMs) {
      const reply = (await scripts.sync([keys.next, keys.held, keys.gateway(gateway)], [String(leaseMs)])) as unknown[] | null;
      if (reply === null) return undefined;
      const [next, g, held] = reply;
      return { next: numberOf(next), g: numberOf(g), held: numberOf(held) };
    },
    async listen(gateway, handlers) {
      const subscriber = opts.subscriber;
      if (!subscriber) throw new Error('the Redis router listens only with a subscriber connection (createRedisRouter opts.subscriber)');
      const channel = keys.channel(gateway);
      const onMessage = (from: string, raw: string) => {
        if (from === channel) hearFrame(raw, handlers);
      };
      const counts = listening.get(subscriber) ?? new Map<string, number>();
      listening.set(subscriber, counts);
      counts.set(channel, (counts.get(channel) ?? 0) + 1);
      subscriber.on('message', onMessage);
      let closed = false;
      const stop = async () => {
        if (closed) return;
        closed = true;
        subscriber.off('message', onMessage);
        const left = (counts.get(channel) ?? 1) - 1;
        if (left > 0) counts.set(channel, left);
        else {
          counts.delete(channel);
          await subscriber.unsubscribe(channel);
        }
      };
      try {
        // Ready (ioredis's INFO check done) before it turns subscriber: a SUBSCRIBE
        // sent first makes that check fail, and the channel is never heard.
        await subscriber.ping();
        await subscriber.subscribe(channel);
      } catch (error) {
        await stop().catch(() => {});
        throw error;
      }
      return {
        async renew() {
          await subscriber.subscribe(channel);
        },
        close: stop,
      };
    },
    channel: keys.channel,
  };
}
