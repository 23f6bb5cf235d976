import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '@chat/shared/config';
import { closeConnections, closeRedis, openConnections } from '@chat/shared/connections';
import { createLogger } from '@chat/shared/logger';
import { freePort } from '@chat/shared/testing';
import { startApi, type TestApi } from '../../services/api/test/harness.ts';
import { startGateway, type TestGateway } from '../../services/gateway/test/harness.ts';
import { aclFileFor } from './acl-file.ts';
import { exerciseEveryRedisPath } from './exercise-app.ts';

// The compose Redis runs with deploy/redis/users.acl (default user off, the app's
// user `chat` limited to its commands, `chat:` keys and channels). This starts a
// redis-server of its own with that very file, completed the way start.sh does
// it, and runs the real connections, API and gateway against it. An extra
// `inspector` user (test only) reads ACL LOG: any command the app sent and the
// ACL refused shows up there, so a new command missing from users.acl fails here.

const PASSWORD = randomBytes(24).toString('hex');
// Under `chat:` and unique: the harness's close() also clears its prefix on the shared test Redis.
const PREFIX = `chat:acl-${randomBytes(4).toString('hex')}:`;
const INSPECTOR_PASSWORD = randomBytes(24).toString('hex');
let dir: string;
let server: ChildProcess;
let port: number;
let inspector: Redis;
const appUrl = () => `redis://chat:${PASSWORD}@127.0.0.1:${port}`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'redis-acl-'));
  const aclFile = path.join(dir, 'users.acl');
  await writeFile(aclFile, `${await aclFileFor('users.acl', PASSWORD, PREFIX)}\nuser inspector on >${INSPECTOR_PASSWORD} ~* &* +@all\n`);
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--aclfile', aclFile], {
    stdio: 'ignore',
  });
  inspector = new Redis(`redis://inspector:${INSPECTOR_PASSWORD}@127.0.0.1:${port}`, { retryStrategy: (n) => (n > 100 ? null : 50) });
  inspector.on('error', () => {}); // refused until the server listens
  await inspector.ping();
});

afterAll(async () => {
  inspector?.disconnect();
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Entries of ACL LOG: commands, keys or channels the server refused since the last reset. */
const refusals = async () => (await inspector.call('ACL', 'LOG')) as unknown[];

describe('Redis with the compose ACL file', () => {
  it('refuses connections without the password, with a wrong one, and as the default user', async () => {
    const client = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 0, enableReadyCheck: false });
    client.on('error', () => {});
    try {
      await expect(client.ping()).rejects.toThrow(/NOAUTH/);
      await expect(client.call('AUTH', 'chat', 'wrong')).rejects.toThrow(/WRONGPASS/);
      await expect(client.call('AUTH', 'default', PASSWORD)).rejects.toThrow(/WRONGPASS/);
      await expect(client.call('AUTH', PASSWORD)).rejects.toThrow(/WRONGPASS/);
      await expect(client.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      client.disconnect();
    }
  });

  it('openConnections with redis://chat:<password>@host works: ping, publish and subscribe', async () => {
    const config = loadApiConfig({ ENVIRONMENT: 'test', DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused', REDIS_URL: appUrl() });
    const conn = openConnections(config, createLogger({ level: 'silent', service: 'acl-test' }));
    const subscriber = conn.redis.duplicate();
    try {
      expect(await conn.redis.ping()).toBe('PONG');
      const got = new Promise<[string, string]>((resolve) => subscriber.once('message', (channel: string, text: string) => resolve([channel, text])));
      await subscriber.subscribe(`${PREFIX}acl-test`);
      expect(await conn.redis.publish(`${PREFIX}acl-test`, 'hello')).toBe(1);
      expect(await got).toEqual([`${PREFIX}acl-test`, 'hello']);
      expect(await conn.redis.set(`${PREFIX}key`, '1')).toBe('OK');
      // Outside its prefix, and beyond its commands, the app's user gets nothing.
      await expect(conn.redis.set('chat:outside-the-prefix', '1')).rejects.toThrow(/NOPERM/);
      await expect(conn.redis.publish('other-channel', 'x')).rejects.toThrow(/NOPERM/);
      await expect(conn.redis.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
      await expect(conn.redis.call('KEYS', `${PREFIX}*`)).rejects.toThrow(/NOPERM/);
      await expect(conn.redis.call('CONFIG', 'GET', 'requirepass')).rejects.toThrow(/NOPERM/);
    } finally {
      await closeRedis(subscriber);
      await closeConnections(conn);
    }
  });

  describe('the whole app as the ACL user', () => {
    const prefix = PREFIX;
    let api: TestApi;
    let gateway: TestGateway;
    beforeAll(async () => {
      api = await startApi({ REDIS_URL: appUrl(), REDIS_PREFIX: prefix });
      gateway = await startGateway(prefix, { REDIS_URL: appUrl() });
      await api.resources.redis.ping(); // the rate limiters refuse requests until Redis is ready
      await inspector.call('ACL', 'LOG', 'RESET');
    });
    afterAll(async () => {
      await gateway?.close();
      await api?.close();
    });

    it('serves health, presence, delivery across processes and logout without a single refused command', async () => {
      await exerciseEveryRedisPath(api, gateway, 'through the ACL');
      expect(await refusals()).toEqual([]);
    });
  });
});
