import type { RedisClient } from '../redis.ts';
import type { Delivery, InterServerEventName, InterServerEvents } from './types.ts';

/**
 * Targeted fan-out (docs/architecture.md#targeted-fan-out). A gateway
 * registers the rooms its connections are in; publishing routes each event
 * to the gateways registered for its rooms, on a channel per gateway, so a
 * gateway receives what its own connections need and not the cluster's whole
 * traffic.
 *
 * Routing runs in Redis scripts whose keys share one hash tag, so on a Redis
 * Cluster they live on one master and every routing decision is atomic with
 * the registrations it reads. Messages are routed in log order: one that
 * arrives ahead of a lower seq is held until the lower one is routed (or a
 * gateway's watchdog routes it from the log: services/gateway/src/routes.ts).
 * So each gateway's
 * channel carries its messages in seq order, and a frame's per-gateway
 * number `g` (dense per gateway) shows a lost frame.
 *
 * A frame is `<g>|<next>|<json>`: `next` is the first seq not yet routed when
 * the frame was routed, `json` is `{"event": name, "data": payload}`.
 */

/** Registers for every event, whatever its rooms (observers, tests). */
export const EVERY_ROOM = '*';

const DELIVER_FN = `
local base = ARGV[1]
local function deliver(rooms, payload, n)
  local seen = {}
  for room in string.gmatch(rooms .. ' *', '%S+') do
    local key = base .. 'room:' .. room
    for _, gw in ipairs(redis.call('SMEMBERS', key)) do
      if not seen[gw] then
        local gkey = base .. 'gw:' .. gw
        if redis.call('EXISTS', gkey) == 1 then
          local g = redis.call('HINCRBY', gkey, 'g', 1)
          seen[gw] = g
          redis.call('PUBLISH', base .. 'to:' .. gw, g .. '|' .. n .. '|' .. payload)
        else
          -- Its lease ran out: the gateway is gone (or re-registers everything when it comes back).
          redis.call('SREM', key, gw)
        end
      end
    end
  end
  return seen
end
`;

/** Messages held at most: while no gateway runs (so none says where routing starts), Redis must not fill up. */
const MAX_HELD = 10_000;

/** Routes the held messages that follow on from `nxt`; returns the new next. */
const DRAIN_FN = `
local function drain(nxt)
  while true do
    local held = redis.call('HGET', KEYS[2], tostring(nxt))
    if not held then break end
    redis.call('HDEL', KEYS[2], tostring(nxt))
    local cut = string.find(held, '\\n', 1, true)
    deliver(string.sub(held, 1, cut - 1), string.sub(held, cut + 1), nxt + 1)
    nxt = nxt + 1
  end
  redis.call('SET', KEYS[1], nxt)
  return nxt
end
`;

/** KEYS: next, held. ARGV: base, seq, rooms (space-separated), payload. */
const ROUTE = `${DELIVER_FN}${DRAIN_FN}
local seq = tonumber(ARGV[2])
local nxt = tonumber(redis.call('GET', KEYS[1]))
if nxt and seq < nxt then return 0 end
if not nxt or seq > nxt then
  -- Held until the lower seqs are routed; with no 'next' (a new deployment, or
  -- Redis lost its data) until a gateway has read the log and says where routing starts (INIT).
  -- Bounded: past the cap a message is left to the gateways' watchdog, which routes it from the log.
  if redis.call('HLEN', KEYS[2]) >= ${MAX_HELD} then return 3 end
  redis.call('HSET', KEYS[2], tostring(seq), ARGV[3] .. '\\n' .. ARGV[4])
  return 1
end
deliver(ARGV[3], ARGV[4], seq + 1)
drain(seq + 1)
return 2
`;

/** KEYS: next, held. ARGV: base, first seq to route. Sets where routing starts unless it is set; returns it. */
const INIT = `${DELIVER_FN}${DRAIN_FN}
local nxt = tonumber(redis.call('GET', KEYS[1]))
if nxt then return nxt end
nxt = tonumber(ARGV[2])
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if tonumber(field) < nxt then redis.call('HDEL', KEYS[2], field) end
end
return drain(nxt)
`;

/** KEYS: next. ARGV: base, rooms, payload, and the room to add for every gateway reached ('' for none). */
const CONTROL = `${DELIVER_FN}
local n = redis.call('GET', KEYS[1]) or '0'
local reached = deliver(ARGV[2], ARGV[3], n)
local add = ARGV[4]
if add ~= '' then
  -- Added in the same step as the frame is routed: every message of the room
  -- routed after this frame reaches the gateways that got it. 'a:<room>' keeps
  -- the frame's number, so an unregister the gateway decided before it saw
  -- this frame leaves the room in place (UNREGISTER).
  for gw, g in pairs(reached) do
    redis.call('SADD', base .. 'room:' .. add, gw)
    redis.call('HSET', base .. 'gw:' .. gw, 'a:' .. add, g)
  end
end
return 1
`;

/** KEYS: next, held. ARGV: base, gateway, lease ms, rooms... Returns { next, g, fresh }. */
const REGISTER = `
local base = ARGV[1]
local gkey = base .. 'gw:' .. ARGV[2]
local fresh = redis.call('HSETNX', gkey, 'g', 0)
redis.call('PEXPIRE', gkey, ARGV[3])
for i = 4, #ARGV do redis.call('SADD', base .. 'room:' .. ARGV[i], ARGV[2]) end
return { redis.call('GET', KEYS[1]) or '0', redis.call('HGET', gkey, 'g'), fresh, redis.call('HLEN', KEYS[2]) }
`;

/** ARGV: base, gateway, the last frame number the gateway had applied when it decided, rooms... */
const UNREGISTER = `
local base = ARGV[1]
local gkey = base .. 'gw:' .. ARGV[2]
local seen = tonumber(ARGV[3])
for i = 4, #ARGV do
  local added = tonumber(redis.call('HGET', gkey, 'a:' .. ARGV[i]))
  if not added or added <= seen then
    redis.call('SREM', base .. 'room:' .. ARGV[i], ARGV[2])
    redis.call('HDEL', gkey, 'a:' .. ARGV[i])
  end
end
return 1
`;

/** KEYS: next, held. ARGV: base, gateway, lease ms. Returns { next, g, held } or nil when the gateway is unknown. */
const SYNC = `
local gkey = ARGV[1] .. 'gw:' .. ARGV[2]
if redis.call('PEXPIRE', gkey, ARGV[3]) == 0 then return nil end
return { redis.call('GET', KEYS[1]) or '0', redis.call('HGET', gkey, 'g'), redis.call('HLEN', KEYS[2]) }
`;

/** Where routing stands for one gateway: `next` is the first seq not routed yet (0: nothing routed since Redis started). */
export interface RouteHead {
  next: number;
  /** The gateway's frame number: every frame routed to it before this call has g <= this. */
  g: number;
  /** Messages waiting in Redis for a lower seq to be routed first. */
  held: number;
}

/** What ROUTE did with a message: routed (and any held ones it unblocked), held for a lower seq, stale (already routed), or held_full. */
export type RouteOutcome = 'routed' | 'held' | 'stale' | 'held_full';

export interface Router {
  /** Routes a numbered message; in seq order, whatever order the calls come in. */
  route(delivery: Delivery): Promise<RouteOutcome>;
  /** Where routing starts when nothing says so yet (after a gateway read the log up to `seq` - 1); returns the next seq to route. */
  init(seq: number): Promise<number>;
  /** Routes an event to the gateways of `room` now; `addRoom` also registers those gateways for it. */
  control<E extends InterServerEventName>(room: string, event: E, data: Parameters<InterServerEvents[E]>[0], addRoom?: string): Promise<void>;
  /** Adds `rooms` for `gateway` (keeping its lease); `fresh` says Redis had forgotten the gateway. */
  register(gateway: string, rooms: readonly string[], leaseMs: number): Promise<RouteHead & { fresh: boolean }>;
  /** Removes `rooms` for `gateway`, except any a membership frame numbered above `seenG` added meanwhile. */
  unregister(gateway: string, rooms: readonly string[], seenG: number): Promise<void>;
  /** Renews the lease and reads the head; undefined when Redis no longer knows the gateway. */
  sync(gateway: string, leaseMs: number): Promise<RouteHead | undefined>;
  /** Hands the gateway's frames to `onFrame` in channel order (a frame that does not parse goes to `onMalformed`); resolves once subscribed. */
  listen(gateway: string, onFrame: (frame: Frame) => void, onMalformed?: (raw: string) => void): Promise<FrameListener>;
  /** The channel a gateway's frames arrive on. */
  channel(gateway: string): string;
}

export interface FrameListener {
  /** Subscribes again: costs nothing if the subscription stands, mends one Redis lost. */
  renew(): Promise<void>;
  /** Stops listening (does not close the connection it was given). */
  close(): Promise<void>;
}

export interface Frame {
  g: number;
  next: number;
  event: string;
  data: unknown;
}

/** Parses a channel frame; undefined for anything that is not one. */
export function parseFrame(raw: string): Frame | undefined {
  const first = raw.indexOf('|');
  const second = raw.indexOf('|', first + 1);
  if (first < 0 || second < 0) return undefined;
  const g = Number(raw.slice(0, first));
  const next = Number(raw.slice(first + 1, second));
  if (!Number.isSafeInteger(g) || !Number.isSafeInteger(next)) return undefined;
  try {
    const body = JSON.parse(raw.slice(second + 1)) as { event?: unknown; data?: unknown };
    if (typeof body.event !== 'string') return undefined;
    return { g, next, event: body.event, data: body.data };
  } catch {
    return undefined;
  }
}

/** The keys and channels of one deployment (Redis prefix); they share a hash tag, so a cluster keeps the keys on one master. */
export const routerKeys = (prefix: string) => {
  const base = `${prefix}{fanout}:`;
  return { base, next: `${base}next`, held: `${base}held` };
};

const numberOf = (value: unknown) => Number(value ?? 0);
const OUTCOMES: Record<number, RouteOutcome> = { 0: 'stale', 1: 'held', 2: 'routed', 3: 'held_full' };

export function createRouter(redis: RedisClient, prefix: string, opts: { subscriber?: RedisClient } = {}): Router {
  const keys = routerKeys(prefix);
  const payload = (event: string, data: unknown) => JSON.stringify({ event, data });

  return {
    async route(delivery) {
      const code = await redis.eval(
        ROUTE,
        2,
        keys.next,
        keys.held,
        keys.base,
        String(delivery.seq),
        delivery.rooms.join(' '),
        payload('deliver', delivery),
      );
      return OUTCOMES[numberOf(code)] ?? 'routed';
    },
    async init(seq) {
      return numberOf(await redis.eval(INIT, 2, keys.next, keys.held, keys.base, String(seq)));
    },
    async control(room, event, data, addRoom = '') {
      await redis.eval(CONTROL, 1, keys.next, keys.base, room, payload(event, data), addRoom);
    },
    async register(gateway, rooms, leaseMs) {
      const [next, g, fresh, held] = (await redis.eval(
        REGISTER,
        2,
        keys.next,
        keys.held,
        keys.base,
        gateway,
        String(leaseMs),
        ...rooms,
      )) as unknown[];
      return { next: numberOf(next), g: numberOf(g), fresh: numberOf(fresh) === 1, held: numberOf(held) };
    },
    async unregister(gateway, rooms, seenG) {
      if (rooms.length === 0) return;
      // Names `next` only to be sent to the master that holds the room sets.
      await redis.eval(UNREGISTER, 1, keys.next, keys.base, gateway, String(seenG), ...rooms);
    },
    async sync(gateway, leaseMs) {
      const reply = (await redis.eval(SYNC, 2, keys.next, keys.held, keys.base, gateway, String(leaseMs))) as unknown[] | null;
      if (reply === null) return undefined;
      const [next, g, held] = reply;
      return { next: numberOf(next), g: numberOf(g), held: numberOf(held) };
    },
    async listen(gateway, onFrame, onMalformed = () => {}) {
      const { subscriber } = opts;
      if (!subscriber) throw new Error('listening needs a subscriber connection');
      const channel = `${keys.base}to:${gateway}`;
      const onMessage = (ch: string, raw: string) => {
        if (ch !== channel) return;
        const frame = parseFrame(raw);
        if (frame) onFrame(frame);
        else onMalformed(raw);
      };
      subscriber.on('message', onMessage);
      // Ready (ioredis's INFO check done) before it turns subscriber: a SUBSCRIBE
      // sent first makes that check fail, and the channel is never heard.
      await subscriber.ping();
      await subscriber.subscribe(channel);
      return {
        renew: async () => void (await subscriber.subscribe(channel)),
        close: () => {
          subscriber.off('message', onMessage);
          return Promise.resolve();
        },
      };
    },
    channel: (gateway) => `${keys.base}to:${gateway}`,
  };
}
