import type { RedisClient } from '../redis.ts';
import { orUnavailable } from '../errors.ts';
import { presenceKeys } from './keys.ts';

export interface PresenceReader {
  /** Ids of users with at least one connection on a live gateway. */
  onlineUserIds(): Promise<Set<string>>;
  /** Which of `userIds` are online; costs one lookup per live gateway for just those ids. */
  onlineAmong(userIds: readonly string[]): Promise<Set<string>>;
}

/** A pipeline's replies, or its first error. */
async function results<T>(replies: Promise<Array<[Error | null, unknown]> | null>): Promise<T[]> {
  return ((await replies) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value as T;
  });
}

export function createPresenceReader(redis: RedisClient, prefix: string): PresenceReader {
  const keys = presenceKeys(prefix);

  const liveGateways = () => redis.zrangebyscore(keys.gateways, Date.now(), '+inf');

  async function readAll(): Promise<Set<string>> {
    const live = await liveGateways();
    if (live.length === 0) return new Set();
    const pipeline = redis.pipeline();
    for (const id of live) pipeline.hgetall(keys.gateway(id));
    const online = new Set<string>();
    for (const counts of await results<Record<string, string>>(pipeline.exec())) {
      // Only a positive count is a live connection; a field left at 0 is not.
      for (const [userId, count] of Object.entries(counts)) if (Number(count) > 0) online.add(userId);
    }
    return online;
  }

  async function readSome(userIds: readonly string[]): Promise<Set<string>> {
    const online = new Set<string>();
    if (userIds.length === 0) return online;
    const live = await liveGateways();
    if (live.length === 0) return online;
    const pipeline = redis.pipeline();
    for (const id of live) pipeline.hmget(keys.gateway(id), ...userIds);
    for (const counts of await results<Array<string | null>>(pipeline.exec())) {
      counts.forEach((count, i) => {
        if (Number(count) > 0) online.add(userIds[i] as string);
      });
    }
    return online;
  }

  const unavailable = 'presence is unavailable right now; try again shortly';
  return {
    onlineUserIds: () => orUnavailable(readAll, unavailable),
    onlineAmong: (userIds) => orUnavailable(() => readSome(userIds), unavailable),
  };
}
