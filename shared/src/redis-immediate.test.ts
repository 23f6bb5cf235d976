import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rooms } from './events/rooms.ts';
import { createRedisRouter } from './events/router/index.ts';
import { createLimiter } from './limits/rate-limits.ts';
import { createLogger } from './logger.ts';
import { closeRedis, createRedisClient, IMMEDIATE_COMMANDS } from './redis.ts';
import { messageFixture } from './testing/messages.ts';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from './testing/redis.ts';

// The send path's commands leave the moment they are issued; every other command
// still waits for its auto-pipeline (the next setImmediate). Checked on the wire
// side of ioredis, synchronously after each call: whatever sendCommand saw by
// then went out without waiting for the event loop.

const logger = createLogger({ level: 'silent', service: 'redis-immediate-test' });

describe('commands sent at once (IMMEDIATE_COMMANDS)', () => {
  const prefix = uniquePrefix();
  // A single node: the same options as a cluster's, and one connection whose commands can be watched.
  let client: Redis;
  const sent: string[] = [];

  beforeAll(async () => {
    client = createRedisClient({ url: TEST_REDIS_URL, cluster: undefined, commandTimeoutMs: 5_000 }) as Redis;
    await client.ping();
    const send = client.sendCommand.bind(client);
    client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
      sent.push(args[0].name);
      return send(...args);
    };
  });

  afterAll(async () => {
    await closeRedis(client);
    await deletePrefix(prefix);
  });

  /** What `call` put on the wire before it returned, and (after awaiting it) in all. */
  async function issued(call: () => Promise<unknown>): Promise<{ atOnce: string[]; inAll: string[] }> {
    sent.length = 0;
    const pending = call();
    const atOnce = [...sent];
    await pending.catch(() => undefined);
    return { atOnce, inAll: [...sent] };
  }

  it('sends the revocation read (MGET) at once, and a GET with the next auto-pipeline', async () => {
    expect((await issued(() => client.mget(`${prefix}a`, `${prefix}b`))).atOnce).toEqual(['mget']);
    const get = await issued(() => client.get(`${prefix}a`));
    expect(get.atOnce).toEqual([]);
    expect(get.inAll).toEqual(['get']);
  });

  it("sends the router's ROUTE at once", async () => {
    const router = createRedisRouter(client, prefix, { logger });
    const delivery = { rooms: [rooms.global], event: 'message' as const, seq: 1, message: messageFixture({ id: 'm1', content: 'x' }) };
    // EVALSHA, or EVAL the first time on this connection.
    expect((await issued(() => router.route(delivery))).atOnce).toEqual([expect.stringMatching(/^eval(sha)?$/)]);
  });

  it('sends the rate limit at once', async () => {
    const limiter = createLimiter(client, {
      prefix,
      name: 'test',
      limit: { points: 10, windowMs: 60_000 },
      whenRedisFails: 'refuse',
      message: 'slow down',
      logger,
    });
    const { atOnce } = await issued(() => limiter.consume('someone'));
    expect(atOnce).toEqual([expect.stringMatching(/^eval(sha)?$/)]);
  });

  it('names only commands the clients really define', () => {
    // A renamed script would silently go back to waiting for its auto-pipeline.
    const commands = client as unknown as Record<string, unknown>;
    for (const name of IMMEDIATE_COMMANDS) expect(typeof commands[name], name).toBe('function');
  });
});
