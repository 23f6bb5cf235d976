import { publishOrdered, type RedisClient } from '../redis.ts';

/**
 * The Socket.IO Redis adapter (the gateways' presence broadcasts) calls
 * `publish` and drops the promise, as its emitter does
 * (socket.io-redis-emitter#139). With ioredis a lost connection then becomes
 * an unhandled rejection, which ends a Node process. This view of the client
 * reports such failures to `onError` instead; every other member is the
 * client's own, so the libraries see a complete ioredis client.
 *
 * On a Redis Cluster it also sends each publish to the master of the
 * channel's slot rather than to a random node, so a channel's events keep the
 * order they were published in (see `publishOrdered`).
 */
export function withHandledPublish<C extends RedisClient>(redis: C, onError: (error: unknown, channel: string) => void): C {
  const publish = (channel: string, message: string | Buffer) =>
    publishOrdered(redis, channel, message).catch((error: unknown) => {
      onError(error, channel);
      return 0;
    });
  return new Proxy(redis, {
    get(target, property) {
      if (property === 'publish') return publish;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
