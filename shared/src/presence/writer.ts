import type { Redis } from 'ioredis';
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
  /** Renews this gateway's lease; call it at least every third of the lease. */
  heartbeat(): Promise<void>;
  /** Records one more connection; returns the user's connections cluster-wide. */
  connected(userId: string): Promise<number>;
  /** Records one fewer connection; returns the user's connections cluster-wide. */
  disconnected(userId: string): Promise<number>;
  /** Drops this gateway's lease and counts, for a clean shutdown. */
  remove(): Promise<void>;
}

export function createPresenceWriter(redis: Redis, opts: { prefix: string; gatewayId: string; leaseMs: number }): PresenceWriter {
  const keys = presenceKeys(opts.prefix);
  const own = keys.gateway(opts.gatewayId);

  const change = async (userId: string, delta: 1 | -1) => {
    const total = await redis.eval(COUNT_SCRIPT, 2, keys.gateways, own, userId, delta, Date.now(), keys.gatewayPrefix);
    return Number(total);
  };

  return {
    async heartbeat() {
      const now = Date.now();
      await redis
        .multi()
        .zadd(keys.gateways, now + opts.leaseMs, opts.gatewayId)
        // The hash outlives the lease a little, then Redis drops it by itself.
        .pexpire(own, opts.leaseMs * 2)
        // Forget gateways long dead so the set stays small.
        .zremrangebyscore(keys.gateways, '-inf', now - opts.leaseMs * 10)
        .exec();
    },
    connected: (userId) => change(userId, 1),
    disconnected: (userId) => change(userId, -1),
    async remove() {
      await redis.multi().zrem(keys.gateways, opts.gatewayId).del(own).exec();
    },
  };
}
