import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePorts } from '@chat/shared/testing';
import { startApi, type TestApi } from '../../services/api/test/harness.ts';
import { startGateway, type TestGateway } from '../../services/gateway/test/harness.ts';
import { aclFileFor } from './acl-file.ts';
import { exerciseEveryRedisPath } from './exercise-app.ts';

// docker-compose.redis-cluster.yml, as far as it can run without Docker: six
// redis-server nodes with what start.sh gives each one in cluster mode (the ACL
// file of users.acl plus cluster-users.acl, cluster-enabled, the announced
// hostname, replicas authenticating as `admin`), joined by the very
// create-cluster.sh the one-shot job runs, then the real API and gateway as the
// app's user `chat`. An `inspector` user (test only) reads ACL LOG on every
// node: a command of the app, of redis-cli --cluster create or of replication
// that the ACL refused fails the test, so users.acl and cluster-users.acl
// stay complete for cluster mode.

const PASSWORD = randomBytes(24).toString('hex');
const ADMIN_PASSWORD = randomBytes(24).toString('hex');
const INSPECTOR_PASSWORD = randomBytes(24).toString('hex');
// Under `chat:` and unique: the harness's close() also clears its prefix on the shared test Redis.
const PREFIX = `chat:cluster-acl-${randomBytes(4).toString('hex')}:`;
const run = promisify(execFile);

let dir: string;
const servers: ChildProcess[] = [];
let ports: number[] = [];
const inspectors: Redis[] = [];

/** What start.sh writes to /run/redis/cluster.conf, with the test's own file paths. */
const clusterConf = (port: number, busPort: number) =>
  [
    `port ${port}`,
    'bind 127.0.0.1 -::1',
    'cluster-enabled yes',
    `cluster-port ${busPort}`,
    `cluster-config-file ${path.join(dir, `nodes-${port}.conf`)}`,
    'cluster-node-timeout 5000',
    // Clients are told this name, not an address: what lets compose use service names.
    'cluster-announce-hostname localhost',
    'cluster-preferred-endpoint-type hostname',
    'masteruser admin',
    `masterauth ${ADMIN_PASSWORD}`,
    // Test speed only: a replica's first sync starts at once.
    'repl-diskless-sync-delay 0',
    `dir ${dir}`,
  ].join('\n');

const nodeList = () => ports.map((p) => `127.0.0.1:${p}`).join(',');
/** Runs create-cluster.sh as the compose job does, with its environment. */
const createCluster = () =>
  run('sh', [path.join(import.meta.dirname, 'create-cluster.sh')], {
    env: { PATH: process.env.PATH, REDIS_ADMIN_PASSWORD: ADMIN_PASSWORD, REDIS_CLUSTER_NODES: nodeList(), REDIS_CLUSTER_REPLICAS: '1' },
    timeout: 90_000,
  });
/**
 * ACL LOG of every node: what the ACL refused, since the last reset. Except the
 * INFO of ioredis's ready check, which carries on when refused (see users.acl):
 * a cluster client opens node connections as it needs them (its subscriber's
 * among them), so some open after the reset that the single-node test relies on.
 */
const refusals = async () =>
  (await Promise.all(inspectors.map((r) => r.call('ACL', 'LOG') as Promise<unknown[][]>))).flat().filter((entry) => {
    const field = (name: string) => entry[entry.indexOf(name) + 1];
    return !(field('reason') === 'command' && field('object') === 'info' && field('username') === 'chat');
  });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'redis-cluster-acl-'));
  const aclFile = path.join(dir, 'users.acl');
  await writeFile(
    aclFile,
    [
      await aclFileFor('users.acl', PASSWORD, PREFIX),
      await aclFileFor('cluster-users.acl', ADMIN_PASSWORD, PREFIX),
      `user inspector on >${INSPECTOR_PASSWORD} ~* &* +@all`,
      '',
    ].join('\n'),
  );
  const all = await freePorts(12);
  ports = all.slice(0, 6);
  for (const [i, port] of ports.entries()) {
    const conf = path.join(dir, `cluster-${port}.conf`);
    await writeFile(conf, clusterConf(port, all[6 + i] as number));
    servers.push(spawn('redis-server', [conf, '--save', '', '--appendonly', 'no', '--aclfile', aclFile], { stdio: 'ignore' }));
    const inspector = new Redis({
      port,
      host: '127.0.0.1',
      username: 'inspector',
      password: INSPECTOR_PASSWORD,
      retryStrategy: (n) => (n > 100 ? null : 50),
    });
    inspector.on('error', () => {}); // refused until the server listens
    inspectors.push(inspector);
  }
  await Promise.all(inspectors.map((r) => r.ping()));
}, 60_000);

afterAll(async () => {
  for (const inspector of inspectors) inspector.disconnect();
  for (const server of servers) server.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the compose Redis Cluster, with its ACL files and create-cluster.sh', () => {
  it('create-cluster.sh joins 3 masters with a replica each as `admin`, and does nothing the second time', async () => {
    const first = await createCluster();
    expect(first.stdout).toContain('cluster ready');
    const roles = await Promise.all(inspectors.map(async (r) => ((await r.call('ROLE')) as [string])[0]));
    expect(roles.filter((role) => role === 'master')).toHaveLength(3);
    expect(roles.filter((role) => role === 'slave')).toHaveLength(3);
    // Replicas authenticated to their masters with the admin user's password.
    await vi.waitFor(
      async () => {
        const links = await Promise.all(inspectors.map(async (r) => /master_link_status:(\w+)/.exec(await r.info('replication'))?.[1]));
        expect(
          links.filter((l) => l === 'up'),
          `replica links: ${links.join(',')}`,
        ).toHaveLength(3);
      },
      { timeout: 15_000, interval: 100 },
    );
    const again = await createCluster();
    expect(again.stdout).toContain('already form a cluster');
    expect(await refusals()).toEqual([]);
  }, 120_000);

  describe('the whole app as the ACL user `chat`', () => {
    let api: TestApi;
    let gateway: TestGateway;
    const env = () => ({ REDIS_CLUSTER_NODES: nodeList(), REDIS_USERNAME: 'chat', REDIS_PASSWORD: PASSWORD, REDIS_PREFIX: PREFIX });
    beforeAll(async () => {
      api = await startApi(env());
      gateway = await startGateway(PREFIX, env());
      await api.resources.redis.ping(); // the rate limiters refuse requests until Redis is ready
      await Promise.all(inspectors.map((r) => r.call('ACL', 'LOG', 'RESET')));
    });
    afterAll(async () => {
      await gateway?.close();
      await api?.close();
    });

    it('serves health, presence, delivery across processes and logout without a single refused command on any node', async () => {
      await exerciseEveryRedisPath(api, gateway, 'through the cluster ACL');
      expect(await refusals()).toEqual([]);
    });
  });
});
