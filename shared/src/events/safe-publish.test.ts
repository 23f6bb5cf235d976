import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../testing/redis.ts';
import { withHandledPublish } from './safe-publish.ts';

describe('withHandledPublish', () => {
  it('reports a failed publish instead of rejecting, and leaves the rest of the client intact', async () => {
    // Nothing listens on port 1: every command fails at once.
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    down.on('error', () => {});
    const failures: string[] = [];
    const client = withHandledPublish(down, (_error, channel) => failures.push(channel));

    // The libraries drop this promise; it must settle without rejecting.
    await expect(client.publish('some-channel', 'payload')).resolves.toBe(0);
    expect(failures).toEqual(['some-channel']);
    expect(client.status).toBe(down.status);
    expect(typeof client.duplicate).toBe('function');
    down.disconnect();
  });

  it('publishes normally when Redis is up', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const client = withHandledPublish(redis, () => {
      throw new Error('must not be called');
    });
    await expect(client.publish(`unused-${crypto.randomUUID()}`, 'x')).resolves.toBe(0);
    await redis.quit();
  });
});
