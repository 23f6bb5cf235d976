import type { Redis } from 'ioredis';
import { orUnavailable } from '../errors.ts';
import { presenceKeys } from './keys.ts';

export interface PresenceReader {
  /** Ids of users with at least one connection on a live gateway. */
  onlineUserIds(): Promise<Set<string>>;
}

export function createPresenceReader(redis: Redis, prefix: string): PresenceReader {
  const keys = presenceKeys(prefix);

  async function readOnline(): Promise<Set<string>> {
    const live = await redis.zrangebyscore(keys.gateways, Date.now(), '+inf');
    if (live.length === 0) return new Set();
    const pipeline = redis.pipeline();
    for (const id of live) pipeline.hgetall(keys.gateway(id));
    const results = (await pipeline.exec()) ?? [];
    const online = new Set<string>();
    for (const [error, counts] of results) {
      if (error) throw error;
      // Only a positive count is a live connection; a field left at 0 is not.
      for (const [userId, count] of Object.entries(counts as Record<string, string>)) {
        if (Number(count) > 0) online.add(userId);
      }
    }
    return online;
  }

  return {
    onlineUserIds: () => orUnavailable(readOnline, 'presence is unavailable right now; try again shortly'),
  };
}
