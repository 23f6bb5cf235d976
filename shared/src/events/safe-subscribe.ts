import type { RedisClient } from '../redis.ts';

const SUBSCRIPTION_COMMANDS = new Set(['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe']);

/**
 * The Socket.IO Redis adapter subscribes when it starts and unsubscribes in
 * close() without handling either promise. A gateway that stops while Redis is
 * down would then end in an unhandled rejection ("Connection is closed.")
 * instead of a clean shutdown. This view of the subscriber reports those
 * failures to `onError`; every other member is the client's own, as in
 * `withHandledPublish`.
 */
export function withHandledSubscriptions<C extends RedisClient>(redis: C, onError: (error: unknown, command: string) => void): C {
  return new Proxy(redis, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (typeof property !== 'string' || !SUBSCRIPTION_COMMANDS.has(property)) return bound;
      return (...args: unknown[]) =>
        (bound(...args) as Promise<unknown>).catch((error: unknown) => {
          onError(error, property);
          return undefined;
        });
    },
  });
}
