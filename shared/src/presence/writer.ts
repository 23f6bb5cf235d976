import { randomBytes } from 'node:crypto';
import { defineScript, type RedisClient } from '../redis.ts';
import { presenceKeys } from './keys.ts';

/**
 * Adds `delta` to a user's connections on one gateway, then returns the
 * user's connections across all live gateways. One script, so two gateways
 * changing the same user at once cannot both miss the 0 <-> 1 transition.
 */
const COUNT_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
if n <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
local total = 0
for _, gw in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf')) do
  total = total + tonumber(redis.call('HGET', ARGV[4] .. gw, ARGV[1]) or '0')
end
return total
`;

export interface PresenceWriter {
  /** This writer's entry in presence: the gateway id plus a suffix of its own. */
  readonly id: string;
  /** Renews this gateway's lease; call it at least every third of the lease. */
  heartbeat(): Promise<void>;
  /** Records one more connection; returns the user's connections cluster-wide. */
  connected(userId: string): Promise<number>;
  /** Records one fewer connection; returns the user's connections cluster-wide. */
  disconnected(userId: string): Promise<number>;
  /** Drops this gateway's lease and counts, for a clean shutdown. */
  remove(): Promise<void>;
}

export function createPresenceWriter(redis: RedisClient, opts: { prefix: string; gatewayId: string; leaseMs: number }): PresenceWriter {
  const keys = presenceKeys(opts.prefix);
  // Each writer (each gateway process) leases an entry of its own, not the bare
  // GATEWAY_ID, because the runner and compose restart a crashed gateway under the
  // same id: sharing the entry, the new process would renew the dead one's lease and
  // keep its users online for ever. With its own entry, a dead instance's users stop
  // counting when its lease runs out, exactly as for any crashed gateway. Clearing
  // the shared entry at start instead would break whenever two instances overlap
  // (a slow stop, a duplicated replica, two gateways in one test process): the new
  // one would wipe the live one's counts, and the old one's clean shutdown would
  // delete the new one's. GATEWAY_ID cannot contain ':', so ids never collide.
  const id = `${opts.gatewayId}:${randomBytes(4).toString('hex')}`;
  const own = keys.gateway(id);

  const count = defineScript(redis, 'chatPresence_count', COUNT_SCRIPT);
  const change = async (userId: string, delta: 1 | -1) => {
    const total = await count([keys.gateways, own], [userId, delta, Date.now(), keys.gatewayPrefix]);
    return Number(total);
  };

  return {
    id,
    async heartbeat() {
      const now = Date.now();
      await redis
        .multi()
        .zadd(keys.gateways, now + opts.leaseMs, id)
        // The hash outlives the lease a little, then Redis drops it by itself.
        .pexpire(own, opts.leaseMs * 2)
        // Forget gateways long dead so the set stays small.
        .zremrangebyscore(keys.gateways, '-inf', now - opts.leaseMs * 10)
        .exec();
    },
    connected: (userId) => change(userId, 1),
    disconnected: (userId) => change(userId, -1),
    async remove() {
      await redis.multi().zrem(keys.gateways, id).del(own).exec();
    },
  };
}
