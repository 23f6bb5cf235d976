import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, YAMLMap, type CollectionTag } from 'yaml';
import {
  API_VARIABLES,
  DATABASE_VARIABLES,
  GATEWAY_VARIABLES,
  WORKER_VARIABLES,
  loadApiConfig,
  loadGatewayConfig,
  loadWorkerConfig,
  type Env,
} from '@chat/shared/config';
import { createMetrics } from '@chat/shared/metrics';
import { API_NODE_FLAGS, GATEWAY_NODE_FLAGS } from '../scripts/cluster/cluster.ts';
import { WEB_ROOT } from '../services/api/src/routes/page/routes.ts';

// No Docker engine runs where the tests do, so the compose stack is checked
// statically: everything it names must exist and agree with the code and nginx.

const root = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFile(path.join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  entrypoint?: string[];
  mem_limit?: string;
  deploy?: { resources?: { limits?: { memory?: string } } };
  profiles?: string[];
  restart?: string;
  ulimits?: { nofile?: { soft: number; hard: number } };
}

let services: Record<string, Service>;
let scripts: Record<string, string>;

/** Which program a service runs, and so which configuration schema applies to it. */
const ROLES: Record<string, { file: string; variables: string[] }> = {
  api: { file: 'services/api/src/main.ts', variables: API_VARIABLES },
  gateway: { file: 'services/gateway/src/main.ts', variables: GATEWAY_VARIABLES },
  worker: { file: 'services/worker/src/main.ts', variables: WORKER_VARIABLES },
  migrate: { file: 'shared/src/db/migrate-cli.ts', variables: DATABASE_VARIABLES },
};
const roleOf = (service: Service) => Object.entries(ROLES).find(([, r]) => service.command?.includes(r.file))?.[0];
const servicesOf = (role: string) => Object.entries(services).filter(([, s]) => roleOf(s) === role);
/** The long-running app processes: API replicas, gateways and workers (everything but migrate). */
const APP_ROLES = ['api', 'gateway', 'worker'];
const appReplicas = () => APP_ROLES.flatMap(servicesOf);

/** `server name:port ...;` lines of an nginx upstream include. */
async function upstreamServers(file: string): Promise<string[]> {
  return [...(await read(file)).matchAll(/^\s*server\s+([\w.-]+:\d+)/gm)].map((m) => m[1] as string);
}

beforeAll(async () => {
  // `merge: true` resolves the `<<: *anchor` keys the file uses.
  services = (parse(await read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> }).services;
  scripts = (JSON.parse(await read('package.json')) as { scripts: Record<string, string> }).scripts;
});

describe('docker-compose.yml', () => {
  it('has the whole topology: postgres, redis, one-shot migrate, several api, gateway and worker replicas, nginx', () => {
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(servicesOf('migrate')).toHaveLength(1);
    expect(servicesOf('api').length).toBeGreaterThanOrEqual(2);
    expect(servicesOf('gateway').length).toBeGreaterThanOrEqual(2);
    expect(servicesOf('worker').length).toBeGreaterThanOrEqual(2);
    expect(services.nginx?.ports).toContain('8080:8080');
  });

  it('sets only environment variables the configuration schemas read', () => {
    for (const [name, service] of Object.entries(services)) {
      const role = roleOf(service);
      if (!role) continue;
      const unknown = Object.keys(service.environment ?? {}).filter((v) => !ROLES[role]?.variables.includes(v));
      expect(unknown, `${name} sets variables its config does not read`).toEqual([]);
    }
  });

  it('runs only programs that exist and that package.json runs too', () => {
    const scriptTargets = Object.values(scripts).join('\n');
    for (const [name, service] of Object.entries(services)) {
      const role = roleOf(service);
      if (!role && service.build) throw new Error(`${name} builds the app image but runs no known program`);
      if (!role) continue;
      const file = ROLES[role]?.file as string;
      expect(existsSync(path.join(root, file)), `${name}: ${file}`).toBe(true);
      expect(scriptTargets, `${name}: no package.json script runs ${file}`).toContain(file);
    }
  });

  it('starts every gateway with the same V8 flags as the local runner and npm run start:gateway', () => {
    const flagsOf = (command: string[]) => command.slice(1, command.indexOf(ROLES.gateway?.file as string));
    for (const [name, service] of servicesOf('gateway')) expect(flagsOf(service.command ?? []), name).toEqual(GATEWAY_NODE_FLAGS);
    expect(flagsOf((scripts['start:gateway'] ?? '').split(' '))).toEqual(GATEWAY_NODE_FLAGS);
  });

  it('starts every worker as npm run start:worker does', () => {
    const file = ROLES.worker?.file as string;
    const flagsOf = (command: string[]) => command.slice(1, command.indexOf(file));
    const script = (scripts['start:worker'] ?? '').split(' ');
    expect(script, 'npm run start:worker').toContain(file);
    for (const [name, service] of servicesOf('worker')) expect(flagsOf(service.command ?? []), name).toEqual(flagsOf(script));
  });

  it("starts every API replica with the same V8 flags as the local runner, npm run start:api and the image's CMD", async () => {
    const file = ROLES.api?.file as string;
    const flagsOf = (command: string[]) => command.slice(1, command.indexOf(file));
    for (const [name, service] of servicesOf('api')) expect(flagsOf(service.command ?? []), name).toEqual(API_NODE_FLAGS);
    expect(flagsOf((scripts['start:api'] ?? '').split(' '))).toEqual(API_NODE_FLAGS);
    const cmd = /^CMD (\[.*\])$/m.exec(await read('deploy/Dockerfile'))?.[1];
    expect(flagsOf(JSON.parse(cmd ?? '[]') as string[]), 'deploy/Dockerfile CMD').toEqual(API_NODE_FLAGS);
  });

  it('matches the nginx upstream includes: every replica listed once, on the port it listens on', async () => {
    for (const role of ['api', 'gateway']) {
      const declared = servicesOf(role).map(([name, s]) => `${name}:${s.environment?.PORT}`);
      expect((await upstreamServers(`deploy/compose/upstreams/${role}.conf`)).sort()).toEqual(declared.sort());
    }
  });

  it('keeps the workers out of nginx: they take no HTTP traffic', async () => {
    const upstreams = await readdir(path.join(root, 'deploy/compose/upstreams'));
    const listed = (await Promise.all(upstreams.map((f) => upstreamServers(`deploy/compose/upstreams/${f}`)))).flat().map((s) => s.split(':')[0]);
    for (const [name] of servicesOf('worker')) {
      expect(listed, `${name} is in an nginx upstream`).not.toContain(name);
      expect(services.nginx?.depends_on?.[name], `nginx waits for ${name}`).toBeUndefined();
    }
  });

  it('gives each gateway its own GATEWAY_ID (and each worker its own WORKER_ID, if set) and health-checks each service on its own port', () => {
    const ids = servicesOf('gateway').map(([, s]) => s.environment?.GATEWAY_ID);
    expect(new Set(ids).size).toBe(ids.length);
    // Optional for workers (the default is random); two replicas with one id would share a name in logs.
    const workerIds = servicesOf('worker').flatMap(([, s]) => s.environment?.WORKER_ID ?? []);
    expect(new Set(workerIds).size).toBe(workerIds.length);
    for (const [name, service] of appReplicas()) {
      expect(service.healthcheck?.test.join(' '), name).toContain(`127.0.0.1:${service.environment?.PORT}/health`);
    }
  });

  it('starts the app only after its dependencies are healthy and migrations are done', () => {
    for (const [name, service] of appReplicas()) {
      expect(service.depends_on, name).toMatchObject({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
    expect(services.migrate?.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    for (const [name] of [...servicesOf('api'), ...servicesOf('gateway')]) {
      expect(services.nginx?.depends_on?.[name]?.condition).toBe('service_healthy');
    }
  });

  it('runs production with a secret that must be supplied', () => {
    for (const [name, service] of appReplicas()) {
      expect(service.environment?.ENVIRONMENT, name).toBe('production');
      expect(service.environment?.JWT_SECRET, name).toMatch(/^\$\{JWT_SECRET:\?/);
    }
  });

  it('mounts the repository nginx.conf unchanged, with the upstream lists beside it where it includes them', async () => {
    const volumes = services.nginx?.volumes ?? [];
    expect(volumes).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(volumes).toContain('./deploy/compose/upstreams:/etc/nginx/upstreams:ro');
    const conf = await read('nginx.conf');
    expect(conf).toContain('include upstreams/api.conf;');
    expect(conf).toContain('include upstreams/gateway.conf;');
    expect(await readdir(path.join(root, 'deploy/compose/upstreams'))).toEqual(expect.arrayContaining(['api.conf', 'gateway.conf']));
  });

  it('gives nginx no web/: the API replicas serve the page, and nginx proxies / to them', async () => {
    expect((services.nginx?.volumes ?? []).filter((v) => v.startsWith('./web'))).toEqual([]);
    const conf = await read('nginx.conf');
    expect(conf).not.toMatch(/^\s*(root|alias|try_files)\s/m);
    expect(/location \/ \{[^}]*proxy_pass http:\/\/chat_api;/.exec(conf)).not.toBeNull();
  });
});

/** `${NAME:?message}`: compose refuses to start without NAME, so no default password can slip in. */
const REQUIRED_VARIABLE = /^\$\{(\w+):\?[^}]*\}$/;
/** scheme://user:password@host:port/... with the password a required variable. */
function credentialsOf(url: string | undefined): { user: string; passwordVariable: string; host: string } | undefined {
  const m = /^\w+:\/\/([^:@/]+):(\$\{[^}]+\})@([\w.-]+:\d+)/.exec(url ?? '');
  const passwordVariable = REQUIRED_VARIABLE.exec(m?.[2] ?? '')?.[1];
  return m && passwordVariable ? { user: m[1] as string, passwordVariable, host: m[3] as string } : undefined;
}
/** The `user <name> ...` lines of an ACL file (deploy/redis/users.acl by default), by name. */
async function aclUsers(file = 'deploy/redis/users.acl'): Promise<Map<string, string[]>> {
  const lines = (await read(file)).split('\n').filter((l) => /^user\s/.test(l));
  return new Map(lines.map((l) => l.trim().split(/\s+/)).map((words) => [words[1] as string, words.slice(2)]));
}
/** An enabled ACL user: password from start.sh only, an allow-list of commands, never every key or channel. */
function expectLeastPrivilege(name: string, rules: string[]) {
  // start.sh appends the password; a `nopass` or a password written into the file would bypass it.
  expect(
    rules.filter((r) => r === 'nopass' || r.startsWith('>') || r.startsWith('#')),
    name,
  ).toEqual([]);
  expect(rules, `${name} may not run everything`).not.toContain('+@all');
  expect(rules, `${name} may not touch every key`).not.toContain('~*');
  expect(rules, `${name} may not use every channel`).not.toContain('&*');
  // An allow-list: everything off first, then no administrative or keyspace-wide command back on.
  expect(rules.indexOf('-@all'), `${name}: -@all before any +command`).toBeLessThan(rules.findIndex((r) => r.startsWith('+')));
  const dangerous = [
    '+@dangerous',
    '+@admin',
    '+keys',
    '+flushall',
    '+flushdb',
    '+config',
    '+acl',
    '+debug',
    '+shutdown',
    '+monitor',
    '+module',
    '+script|flush',
  ];
  expect(
    rules.filter((r) => dangerous.includes(r.toLowerCase()) || r.startsWith('+@')),
    name,
  ).toEqual([]);
}
/** Where a service mounts a repository file (`./src:/target[:ro]`). */
const mountOf = (service: Service | undefined, source: string) => service?.volumes?.map((v) => v.split(':')).find(([from]) => from === source)?.[1];

describe('docker-compose.yml credentials and limits (least privilege)', () => {
  it('Redis refuses unauthenticated connections: the default user is off and the app user has a password from the environment', async () => {
    const redis = services.redis;
    // start.sh builds the ACL file from users.acl and the password, then starts redis-server with it.
    expect(redis?.entrypoint).toEqual(['/bin/sh', mountOf(redis, './deploy/redis/start.sh')]);
    expect(mountOf(redis, './deploy/redis/users.acl')).toBe('/etc/redis/users.acl');
    const start = await read('deploy/redis/start.sh');
    expect(start).toMatch(/--aclfile \/run\/redis\/users\.acl/);
    expect(start).toContain('/etc/redis/users.acl');
    // Through the image's entrypoint, which drops from root to the redis user.
    expect(start).toMatch(/^exec docker-entrypoint\.sh redis-server /m);
    expect(redis?.environment?.REDIS_PASSWORD).toMatch(REQUIRED_VARIABLE);
    const users = await aclUsers();
    expect(users.get('default')?.slice(0, 2)).toEqual(['off', 'resetpass']);
    expect(users.get('default')).toContain('-@all');
    for (const [name, rules] of users) {
      if (rules.includes('on')) expectLeastPrivilege(name, rules);
    }
    // The health check authenticates too, so a healthy Redis is one that loaded the ACL file.
    expect(redis?.healthcheck?.test.join(' ')).toMatch(/REDISCLI_AUTH=.*--user chat ping/);
  });

  it('every service that talks to Redis does so as the ACL user, with the password variable, inside its keys and channels', async () => {
    const users = await aclUsers();
    const talkers = Object.entries(services).filter(([, s]) => s.environment?.REDIS_URL !== undefined);
    expect(talkers.map(([name]) => name).sort()).toEqual(
      appReplicas()
        .map(([name]) => name)
        .sort(),
    );
    for (const [name, service] of talkers) {
      const credentials = credentialsOf(service.environment?.REDIS_URL);
      expect(credentials, `${name}: REDIS_URL must be redis://user:\${VAR:?}@redis:6379`).toMatchObject({
        host: 'redis:6379',
        passwordVariable: 'REDIS_PASSWORD',
      });
      const rules = users.get(credentials?.user ?? '');
      expect(rules, `${name}: ${credentials?.user} is not an enabled user of users.acl`).toContain('on');
      const prefix = service.environment?.REDIS_PREFIX ?? 'chat:';
      expect(rules, `${name}: keys under ${prefix}`).toContain(`~${prefix}*`);
      expect(rules, `${name}: channels under ${prefix}`).toContain(`&${prefix}*`);
    }
  });

  it('the API, gateways and workers connect to PostgreSQL as the application role; only migrate connects as the owner', async () => {
    const postgres = services.postgres;
    const owner = postgres?.environment?.POSTGRES_USER;
    expect(postgres?.environment?.POSTGRES_PASSWORD).toMatch(REQUIRED_VARIABLE);
    expect(postgres?.environment?.POSTGRES_APP_PASSWORD).toMatch(REQUIRED_VARIABLE);
    // The init script creates the role from app-role.sql, which it reads where compose mounts it.
    expect(mountOf(postgres, './deploy/postgres/init-app-role.sh')).toMatch(/^\/docker-entrypoint-initdb\.d\/[\w-]+\.sh$/);
    const sqlTarget = mountOf(postgres, './deploy/postgres/app-role.sql') as string;
    expect(sqlTarget).not.toMatch(/^\/docker-entrypoint-initdb\.d\//); // would run without its psql variables
    const init = await read('deploy/postgres/init-app-role.sh');
    expect(init).toContain(`-f ${sqlTarget}`);
    const appRole = /app_role="\$\{POSTGRES_APP_USER:-(\w+)\}"/.exec(init)?.[1];
    expect(appRole).toBeDefined();
    expect(appRole).not.toBe(owner);

    for (const [name, service] of appReplicas()) {
      expect(credentialsOf(service.environment?.DATABASE_URL), name).toEqual({
        user: appRole,
        passwordVariable: 'POSTGRES_APP_PASSWORD',
        host: 'postgres:5432',
      });
    }
    for (const [name, service] of servicesOf('migrate')) {
      expect(credentialsOf(service.environment?.DATABASE_URL), name).toEqual({
        user: owner,
        passwordVariable: 'POSTGRES_PASSWORD',
        host: 'postgres:5432',
      });
    }
  });

  it('limits the memory of every container', () => {
    for (const [name, service] of Object.entries(services)) {
      const limit = service.mem_limit ?? service.deploy?.resources?.limits?.memory;
      expect(limit, `${name} has no memory limit`).toMatch(/^\d+(\.\d+)?[kmg]b?$/i);
    }
  });
});

/** What deploy/README.md#capacity promises on the reference machine: 2 cores, so 2 workers. */
const CAPACITY = { sockets: 16_000, workers: 2, nginxKiBPerSocket: 22 };

describe('nginx.conf and compose: sized for 16,000 sockets (deploy/README.md#capacity)', () => {
  let conf: string;
  const directive = (name: string) => {
    const m = new RegExp(`^\\s*${name}\\s+([^;]+);`, 'm').exec(conf);
    if (!m?.[1]) throw new Error(`nginx.conf has no ${name}`);
    return m[1].trim();
  };
  beforeAll(async () => {
    conf = await read('nginx.conf');
  });

  it('holds the sockets with two connections each (client and upstream) and a descriptor limit above that', () => {
    const connections = Number(directive('worker_connections'));
    expect((CAPACITY.workers * connections) / 2).toBeGreaterThanOrEqual(CAPACITY.sockets);
    expect(Number(directive('worker_rlimit_nofile'))).toBeGreaterThan(connections);
  });

  it('spreads connections evenly over the workers and queues a reconnect storm', () => {
    const listen = directive('listen').split(/\s+/);
    expect(listen).toContain('reuseport');
    expect(Number(listen.find((w) => w.startsWith('backlog='))?.slice('backlog='.length))).toBeGreaterThanOrEqual(4096);
  });

  it('gives the nginx container the descriptors and the memory for them', () => {
    const nginx = services.nginx;
    expect(nginx?.ulimits?.nofile?.hard ?? 0).toBeGreaterThanOrEqual(Number(directive('worker_rlimit_nofile')));
    const mib = Number(/^(\d+)m$/i.exec(nginx?.mem_limit ?? '')?.[1]);
    expect(mib * 1024).toBeGreaterThanOrEqual(CAPACITY.sockets * CAPACITY.nginxKiBPerSocket);
  });
});

/** Compose's `!override` tag: the value replaces the base file's instead of being merged into it. */
class ComposeOverride {
  value: unknown;
  constructor(value: unknown) {
    this.value = value;
  }
}
const COMPOSE_TAGS: CollectionTag[] = [
  {
    tag: '!override',
    collection: 'map',
    nodeClass: YAMLMap,
    identify: (value: unknown) => value instanceof ComposeOverride,
    resolve: (map) => new ComposeOverride(map.toJSON()),
  },
];
const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ComposeOverride);
/** An override file's value merged into the base file's, as Compose merges: mappings key by key, anything else (and `!override`) replaced. */
function mergeCompose(base: unknown, override: unknown): unknown {
  if (override instanceof ComposeOverride) return override.value;
  if (!isMapping(override)) return override;
  const out: Record<string, unknown> = isMapping(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(override)) out[key] = mergeCompose(out[key], value);
  return out;
}

describe('docker-compose.redis-cluster.yml: the stack on a Redis Cluster', () => {
  const FILE = 'docker-compose.redis-cluster.yml';
  /** docker-compose.yml with the override applied, as `docker compose -f docker-compose.yml -f <FILE>` runs it. */
  let stack: Record<string, Service>;
  beforeAll(async () => {
    const override = parse(await read(FILE), { merge: true, customTags: COMPOSE_TAGS }) as { services: Record<string, Service> };
    const base = parse(await read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
    stack = mergeCompose(base.services, override.services) as Record<string, Service>;
  });
  /** Services started without a --profile. */
  const started = () => Object.entries(stack).filter(([, s]) => (s.profiles ?? []).length === 0);
  const nodes = () => started().filter(([, s]) => s.environment?.REDIS_CLUSTER === 'yes');
  const apps = () => started().filter(([, s]) => APP_ROLES.includes(roleOf(s) ?? ''));
  const createJobs = () => started().filter(([, s]) => mountOf(s, './deploy/redis/create-cluster.sh') !== undefined);
  const redisConfigOf = (service: Service) => configOf(service).redis;

  it('replaces the single redis with 3 masters and a replica each, joined by a one-shot job', () => {
    expect(stack.redis?.profiles ?? [], 'the single redis is not started in this mode').not.toEqual([]);
    expect(createJobs()).toHaveLength(1);
    const [, create] = createJobs()[0] as [string, Service];
    expect(create.restart).toBe('no');
    const replicas = Number(create.environment?.REDIS_CLUSTER_REPLICAS);
    expect(Number.isInteger(replicas) && replicas >= 1, 'replicas per master').toBe(true);
    const masters = nodes().length / (1 + replicas);
    expect(Number.isInteger(masters) && masters >= 3, `${nodes().length} nodes for ${replicas} replica(s) per master`).toBe(true);
    expect(apps().filter(([, s]) => roleOf(s) === 'api').length).toBeGreaterThanOrEqual(2);
    expect(apps().filter(([, s]) => roleOf(s) === 'gateway').length).toBeGreaterThanOrEqual(2);
    expect(apps().filter(([, s]) => roleOf(s) === 'worker').length).toBeGreaterThanOrEqual(2);
    for (const [name, service] of started())
      expect(Object.keys(service.depends_on ?? {}), `${name} depends on the disabled single redis`).not.toContain('redis');
  });

  it('every node the app lists exists, runs cluster-enabled and announces the name it is listed by; the job creates from the same list', async () => {
    const start = await read('deploy/redis/start.sh');
    for (const line of [
      'cluster-enabled yes',
      'cluster-config-file /data/nodes.conf',
      'cluster-announce-hostname $REDIS_ANNOUNCE_HOSTNAME',
      'cluster-preferred-endpoint-type hostname',
    ]) {
      expect(start, line).toContain(line);
    }
    // The generated configuration file is what redis-server reads first.
    expect(start).toMatch(/set -- \/run\/redis\/cluster\.conf/);
    expect(start).toMatch(/^exec docker-entrypoint\.sh redis-server "\$@" /m);
    const nodeNames = nodes()
      .map(([name]) => name)
      .sort();
    const [, create] = createJobs()[0] as [string, Service];
    for (const [name, app] of apps()) {
      const redis = redisConfigOf(app);
      expect(redis.cluster, `${name}: REDIS_CLUSTER_NODES`).toBeDefined();
      const listed = redis.cluster?.nodes ?? [];
      expect(listed.map((n) => n.host).sort(), `${name} lists every node`).toEqual(nodeNames);
      for (const { host, port } of listed) {
        const node = stack[host];
        expect(node?.entrypoint, `${host} runs start.sh`).toEqual(['/bin/sh', mountOf(node, './deploy/redis/start.sh')]);
        expect(node?.environment?.REDIS_ANNOUNCE_HOSTNAME, `${host} announces itself by the name it is listed by`).toBe(host);
        expect(port, `${host}: redis-server's port`).toBe(6379);
      }
      expect(app.environment?.REDIS_CLUSTER_NODES, `${name}: the job creates the cluster the app is told about`).toBe(
        create.environment?.REDIS_CLUSTER_NODES,
      );
    }
  });

  it('the job waits for every node to be healthy, and the app for the job', () => {
    const [createName, create] = createJobs()[0] as [string, Service];
    expect(create.depends_on).toEqual(Object.fromEntries(nodes().map(([name]) => [name, { condition: 'service_healthy' }])));
    for (const [name, app] of apps()) {
      expect(app.depends_on, name).toEqual({
        postgres: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
        [createName]: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('credentials as on the single node: the app as its ACL user with REDIS_PASSWORD; the cluster admin with a password the app never gets', async () => {
    const base = stack.redis as Service;
    const users = await aclUsers();
    const clusterUsers = await aclUsers('deploy/redis/cluster-users.acl');
    const start = await read('deploy/redis/start.sh');
    expect(start).toContain('/etc/redis/cluster-users.acl');
    for (const [name, node] of nodes()) {
      // The very files of the single node, where start.sh reads them, plus the cluster's users.
      for (const file of ['./deploy/redis/start.sh', './deploy/redis/users.acl'])
        expect(mountOf(node, file), `${name}: ${file}`).toBe(mountOf(base, file));
      expect(mountOf(node, './deploy/redis/cluster-users.acl'), name).toBe('/etc/redis/cluster-users.acl');
      expect(node.environment?.REDIS_PASSWORD, name).toMatch(REQUIRED_VARIABLE);
      expect(REQUIRED_VARIABLE.exec(node.environment?.REDIS_ADMIN_PASSWORD ?? '')?.[1], name).toBe('REDIS_ADMIN_PASSWORD');
      expect(node.healthcheck?.test.join(' '), name).toMatch(/REDISCLI_AUTH=.*--user chat ping/);
    }
    // The admin user: least privilege too, and no key or channel at all.
    expect([...clusterUsers.keys()]).not.toEqual([]);
    for (const [name, rules] of clusterUsers) {
      expect(rules, name).toContain('on');
      expect(users.has(name), `${name} is defined once`).toBe(false);
      expectLeastPrivilege(name, rules);
      expect(
        rules.filter((r) => /^[~%&]/.test(r)),
        `${name} reads no key and no channel`,
      ).toEqual([]);
      expect(rules, name).toEqual(expect.arrayContaining(['resetkeys', 'resetchannels']));
    }
    // Replicas authenticate to their master as that user, with a password written to a file, not the command line.
    const masterUser = /^masteruser (\S+)$/m.exec(start)?.[1];
    expect(clusterUsers.has(masterUser ?? ''), `masteruser ${masterUser}`).toBe(true);
    expect(start).toMatch(/^masterauth \$REDIS_ADMIN_PASSWORD$/m);
    expect(/^exec [^\n]*(?:\\\n[^\n]*)*/m.exec(start)?.[0]).not.toMatch(/PASSWORD|masterauth/);
    expect(await read('deploy/redis/create-cluster.sh')).toMatch(/--user admin --cluster create/);

    for (const [name, app] of apps()) {
      const env = app.environment ?? {};
      expect(env.REDIS_URL, `${name}: REDIS_URL emptied (unset)`).toBe('');
      expect(REQUIRED_VARIABLE.exec(env.REDIS_PASSWORD ?? '')?.[1], `${name}: REDIS_PASSWORD`).toBe('REDIS_PASSWORD');
      const rules = users.get(env.REDIS_USERNAME ?? '');
      expect(rules, `${name}: ${env.REDIS_USERNAME} is not an enabled user of users.acl`).toContain('on');
      const prefix = env.REDIS_PREFIX ?? 'chat:';
      expect(rules, `${name}: keys under ${prefix}`).toContain(`~${prefix}*`);
      expect(rules, `${name}: channels under ${prefix}`).toContain(`&${prefix}*`);
      // What ioredis's cluster client sends besides the app's own commands.
      expect(rules, name).toEqual(expect.arrayContaining(['+cluster|slots', '+cluster|info']));
      expect(redisConfigOf(app).cluster?.username, name).toBe(env.REDIS_USERNAME);
    }
    const holders = started()
      .filter(([, s]) => s.environment?.REDIS_ADMIN_PASSWORD !== undefined)
      .map(([name]) => name);
    expect(holders.sort(), 'only the nodes and the job get the admin password').toEqual(
      [...nodes().map(([name]) => name), ...createJobs().map(([name]) => name)].sort(),
    );
    for (const [name, create] of createJobs()) expect(create.environment?.REDIS_PASSWORD, `${name} needs no app password`).toBeUndefined();
  });

  it('sets only variables the configuration schemas read, and limits every container’s memory', () => {
    for (const [name, service] of started()) {
      const limit = service.mem_limit ?? service.deploy?.resources?.limits?.memory;
      expect(limit, `${name} has no memory limit`).toMatch(/^\d+(\.\d+)?[kmg]b?$/i);
      const role = roleOf(service);
      if (!role) continue;
      const unknown = Object.keys(service.environment ?? {}).filter((v) => !ROLES[role]?.variables.includes(v));
      expect(unknown, `${name} sets variables its config does not read`).toEqual([]);
    }
  });
});

describe('deploy/Dockerfile', () => {
  it('is multi-stage, installs production dependencies only and runs as a non-root user', async () => {
    const dockerfile = await read('deploy/Dockerfile');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\}|^ARG NODE_IMAGE=node:24/m);
  });

  it('installs every workspace: its manifest in the deps stage, its own node_modules (if npm made one) in the image', async () => {
    const dockerfile = await read('deploy/Dockerfile');
    const { workspaces } = JSON.parse(await read('package.json')) as { workspaces: string[] };
    for (const role of Object.values(ROLES)) {
      expect(
        workspaces.some((w) => role.file.startsWith(`${w}/`)),
        `${role.file} is in no workspace`,
      ).toBe(true);
    }
    const mkdir = /&& mkdir -p ([^\n]+)/.exec(dockerfile)?.[1]?.split(/\s+/) ?? [];
    for (const workspace of workspaces) {
      expect(dockerfile, workspace).toMatch(new RegExp(`^COPY ${workspace}/package\\.json ${workspace}/$`, 'm'));
      expect(mkdir, workspace).toContain(`${workspace}/node_modules`);
      expect(dockerfile, workspace).toMatch(new RegExp(`^COPY --from=deps /app/${workspace}/node_modules \\./${workspace}/node_modules$`, 'm'));
    }
  });

  it('holds web/ beside services/, where the API looks for the page it serves', async () => {
    const dockerfile = await read('deploy/Dockerfile');
    expect(dockerfile).toMatch(/^COPY services\/ services\/$/m);
    expect(dockerfile).toMatch(/^COPY web\/ web\/$/m);
    // The API finds it from its own file, so web/ must sit where it sits in the repository.
    expect(path.relative(root, WEB_ROOT)).toBe('web');
    const ignored = (await read('.dockerignore')).split('\n').map((line) => line.trim());
    expect(ignored.filter((line) => /^(\*\*\/)?web(\/.*)?$/.test(line))).toEqual([]);
  });
});

/**
 * The environment a service's process sees, as compose interpolates it: `${VAR:-default}`
 * becomes the default, a required `${VAR:?...}` or a plain `${VAR}` a stand-in that is
 * long enough for any secret and URL-safe.
 */
function interpolated(environment: Record<string, string> | undefined): Env {
  const standIn = 'x'.repeat(64);
  return Object.fromEntries(
    Object.entries(environment ?? {}).map(([name, value]) => [
      name,
      // `$$` is compose's escape for a literal `$`.
      String(value).replace(/\$\$|\$\{\w+(?::?-([^}]*))?(?::?\?[^}]*)?\}/g, (match, fallback?: string) =>
        match === '$$' ? '$' : (fallback ?? standIn),
      ),
    ]),
  );
}
/** What an app replica's configuration makes of its compose environment. */
function configOf(service: Service) {
  const env = interpolated(service.environment);
  const role = roleOf(service);
  if (role === 'api') return loadApiConfig(env);
  if (role === 'gateway') return loadGatewayConfig(env);
  if (role === 'worker') return loadWorkerConfig(env);
  throw new Error(`not an app replica: ${service.command?.join(' ')}`);
}
/** Where an API, gateway or worker replica serves GET /metrics. */
function metricsListenerOf(service: Service): { host: string; port: number } {
  return configOf(service).metrics;
}
/** The container path a repository file appears at through a service's bind mounts (a file or a directory mount). */
function containerPathOf(service: Service | undefined, repoFile: string): string | undefined {
  for (const [from, to] of service?.volumes?.map((v) => v.split(':')) ?? []) {
    if (!from?.startsWith('./') || to === undefined) continue;
    const source = from.slice(2).replace(/\/$/, '');
    if (repoFile === source) return to;
    if (repoFile.startsWith(`${source}/`)) return path.posix.join(to, repoFile.slice(source.length + 1));
  }
  return undefined;
}
/** `[host_ip:]host_port:container_port[/proto]` of the short `ports` syntax. */
function publishedPorts(service: Service): { hostIp?: string; containerPort: number }[] {
  return (service.ports ?? []).map((entry) => {
    const parts = String(entry)
      .replace(/\/\w+$/, '')
      .split(':');
    return { hostIp: parts.length === 3 ? parts[0] : undefined, containerPort: Number(parts.at(-1)) };
  });
}

interface ScrapeConfig {
  job_name: string;
  scheme?: string;
  metrics_path?: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
}
interface PrometheusConfig {
  global?: { scrape_interval?: string };
  scrape_configs: ScrapeConfig[];
}

describe('Prometheus: every API, gateway and worker replica scraped on its metrics port', () => {
  let prometheus: PrometheusConfig;
  beforeAll(async () => {
    prometheus = parse(await read('deploy/prometheus/prometheus.yml'), { merge: true }) as PrometheusConfig;
  });
  const targetsOf = (job: ScrapeConfig) => (job.static_configs ?? []).flatMap((c) => c.targets);

  it('runs a pinned Prometheus with the repository config, mounted read-only where its command reads it', () => {
    const service = services.prometheus;
    expect(service?.image).toMatch(/^prom\/prometheus:v3\.\d+\.\d+$/);
    const target = containerPathOf(service, 'deploy/prometheus/prometheus.yml');
    expect(target).toBeDefined();
    expect(service?.volumes).toContain(`./deploy/prometheus/prometheus.yml:${target}:ro`);
    expect(service?.command).toContain(`--config.file=${target}`);
    expect(prometheus.global?.scrape_interval).toMatch(/^\d+[smh]$/);
  });

  it('has one job per program, and every target is <service>:<METRICS_PORT> of a replica that runs that program', () => {
    expect(prometheus.scrape_configs.map((j) => j.job_name).sort()).toEqual([...APP_ROLES].sort());
    for (const job of prometheus.scrape_configs) {
      expect(job.metrics_path ?? '/metrics', job.job_name).toBe('/metrics');
      expect(job.scheme ?? 'http', job.job_name).toBe('http');
      expect(targetsOf(job), `${job.job_name} has no targets`).not.toEqual([]);
      for (const target of targetsOf(job)) {
        const [, name, port] = /^([\w.-]+):(\d+)$/.exec(target) ?? [];
        const service = services[name ?? ''];
        expect(service, `${job.job_name}: ${target} is not a compose service`).toBeDefined();
        expect(roleOf(service as Service), `${job.job_name}: ${target} does not run the ${job.job_name} program`).toBe(job.job_name);
        expect(Number(port), `${job.job_name}: ${target} is not the METRICS_PORT ${name} gets`).toBe(metricsListenerOf(service as Service).port);
      }
    }
  });

  it('scrapes every API, gateway and worker replica exactly once', () => {
    const scraped = prometheus.scrape_configs.flatMap(targetsOf).map((t) => t.split(':')[0]);
    const replicas = appReplicas().map(([name]) => name);
    expect(scraped.sort()).toEqual(replicas.sort());
  });

  it('the metrics listeners are reachable from other containers but published by no service', () => {
    for (const [name, service] of appReplicas()) {
      const listener = metricsListenerOf(service);
      // Not loopback: Prometheus scrapes from its own container.
      expect(['0.0.0.0', '::'], `${name}: METRICS_HOST ${listener.host}`).toContain(listener.host);
      // Its own port, not the one nginx proxies to (that would expose /metrics through nginx).
      expect(listener.port, name).not.toBe(Number(service.environment?.PORT));
      // The replicas publish nothing: nginx is the only way in (and workers take no traffic).
      expect(service.ports ?? [], `${name} publishes ports`).toEqual([]);
    }
    const metricsPorts = new Set(appReplicas().map(([, s]) => metricsListenerOf(s).port));
    for (const [name, service] of Object.entries(services)) {
      const published = publishedPorts(service).filter((p) => metricsPorts.has(p.containerPort));
      expect(published, `${name} publishes a metrics port`).toEqual([]);
    }
  });

  it('Prometheus and Grafana are published on loopback only', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const port of publishedPorts(services[name] as Service)) expect(port.hostIp, `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
    }
  });
});

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: { timeInterval?: string };
}
interface DashboardProvider {
  name: string;
  type: string;
  options: { path: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { refId: string; expr?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
}

/** PromQL words that look like metric names but are not (keywords, modifiers). */
const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
]);
/** The metric names a PromQL expression selects: every identifier that is not a function, keyword, label, string or number. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // string literals (label values)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery windows, $__rate_interval
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\boffset\s+-?[\w$]+/g, ' ')
    .replace(/\$\w+/g, ' ') // Grafana variables
    .replace(/(?<![\w:.])\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, ' '); // numbers
  return [...bare.matchAll(/([A-Za-z_:][\w:]*)\s*(\()?/g)]
    .filter((m) => m[2] === undefined && !PROMQL_KEYWORDS.has((m[1] as string).toLowerCase()))
    .map((m) => m[1] as string);
}
/** Prometheus records these for every target itself; no service registers them. */
const SCRAPE_SERIES = ['up'];

describe('Grafana: provisioned datasource and dashboard', () => {
  let datasources: Datasource[];
  let providers: DashboardProvider[];
  let dashboard: Dashboard;
  /** Every series name a service exposes: its registry's families, histograms and summaries with their suffixes. */
  let exposed: Set<string>;
  const grafana = () => services.grafana;
  const DATASOURCES = 'deploy/grafana/provisioning/datasources/prometheus.yml';
  const PROVIDERS = 'deploy/grafana/provisioning/dashboards/chat.yml';
  const DASHBOARD = 'deploy/grafana/dashboards/chat-cluster.json';
  /** Non-row panels, including those inside collapsed rows. */
  const allPanels = () => dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

  beforeAll(async () => {
    datasources = (parse(await read(DATASOURCES)) as { datasources: Datasource[] }).datasources;
    providers = (parse(await read(PROVIDERS)) as { providers: DashboardProvider[] }).providers;
    dashboard = JSON.parse(await read(DASHBOARD)) as Dashboard;
    exposed = new Set(SCRAPE_SERIES);
    // Both programs register the same families (shared/src/metrics); only the `service` label differs.
    for (const family of await createMetrics({ service: 'deploy-test' }).registry.getMetricsAsJSON()) {
      exposed.add(family.name);
      // prom-client types `type` as a numeric enum; at runtime it is the name ('histogram', ...).
      const suffixes = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] }[String(family.type)] ?? [];
      for (const suffix of suffixes) exposed.add(family.name + suffix);
    }
  });

  it('runs a pinned Grafana: admin password required from the environment, no anonymous access, no sign-up', () => {
    const service = grafana();
    expect(service?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(service?.environment?.GF_SECURITY_ADMIN_PASSWORD).toMatch(REQUIRED_VARIABLE);
    expect(service?.environment?.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(service?.environment?.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    expect(service?.depends_on?.prometheus).toBeDefined();
  });

  it('mounts the provisioning files read-only where Grafana reads them', () => {
    for (const [file, dir] of [
      [DATASOURCES, 'datasources'],
      [PROVIDERS, 'dashboards'],
    ] as const) {
      const target = containerPathOf(grafana(), file);
      expect(target, `${file} is not mounted into grafana`).toMatch(new RegExp(`^/etc/grafana/provisioning/${dir}/[^/]+\\.ya?ml$`));
    }
    for (const volume of grafana()?.volumes ?? []) {
      if (volume.startsWith('./')) expect(volume, 'repository files are mounted read-only').toMatch(/:ro$/);
    }
  });

  it('the datasource is the compose Prometheus, sampled at its scrape interval', async () => {
    expect(datasources).toHaveLength(1);
    const [datasource] = datasources as [Datasource];
    expect(datasource.type).toBe('prometheus');
    expect(datasource.uid).toMatch(/^[\w-]{1,40}$/);
    const url = new URL(datasource.url);
    expect(services[url.hostname]?.image, `${datasource.url} is not the prometheus service`).toMatch(/^prom\/prometheus:/);
    expect(url.port).toBe('9090');
    const prometheus = parse(await read('deploy/prometheus/prometheus.yml'), { merge: true }) as PrometheusConfig;
    expect(datasource.jsonData?.timeInterval).toBe(prometheus.global?.scrape_interval);
  });

  it('the dashboard provider loads the directory the dashboard JSON is mounted in', () => {
    expect(providers).toHaveLength(1);
    const [provider] = providers as [DashboardProvider];
    expect(provider.type).toBe('file');
    const mounted = containerPathOf(grafana(), DASHBOARD);
    expect(mounted, `${DASHBOARD} is not mounted into grafana`).toBeDefined();
    expect(mounted?.startsWith(`${provider.options.path.replace(/\/$/, '')}/`), `${mounted} is outside ${provider.options.path}`).toBe(true);
  });

  it('the dashboard parses, has a fixed uid and panels that each query the provisioned datasource', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels();
    expect(panels.length).toBeGreaterThan(0);
    const ids = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => p.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
    const uid = datasources[0]?.uid;
    for (const panel of panels) {
      expect(panel.targets?.length, `${panel.title} has no query`).toBeGreaterThan(0);
      expect(panel.datasource?.uid, `${panel.title}: datasource`).toBe(uid);
      for (const target of panel.targets ?? []) {
        expect(target.datasource?.uid ?? panel.datasource?.uid, `${panel.title} ${target.refId}: datasource`).toBe(uid);
        expect(target.expr, `${panel.title} ${target.refId}: no expr`).toMatch(/\S/);
      }
    }
  });

  it('finds the metric names in PromQL (so the next check is not vacuous)', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(http_x_bucket{status=~"5..", a="b{c}"}[$__rate_interval]))) / on(instance) group_left up offset 5m or vector(0) * 1e3',
      ),
    ).toEqual(['http_x_bucket', 'up']);
    expect(metricNamesIn('max by (instance) (nodejs_eventloop_lag_p99_seconds) > bool 0.5 unless foo:bar')).toEqual([
      'nodejs_eventloop_lag_p99_seconds',
      'foo:bar',
    ]);
  });

  it('every query uses only series the services expose (or Prometheus records per target)', () => {
    for (const panel of allPanels()) {
      for (const target of panel.targets ?? []) {
        const names = metricNamesIn(target.expr ?? '');
        expect(names, `${panel.title} ${target.refId}: selects no metric`).not.toEqual([]);
        expect(
          names.filter((n) => !exposed.has(n)),
          `${panel.title} ${target.refId}: unknown metrics in ${target.expr}`,
        ).toEqual([]);
      }
    }
  });

  it('shows request rate and latency, connections, message rate, deliveries and their latency, and errors', () => {
    const used = new Set(allPanels().flatMap((p) => (p.targets ?? []).flatMap((t) => metricNamesIn(t.expr ?? ''))));
    for (const name of [
      'http_request_duration_seconds_count',
      'http_request_duration_seconds_bucket',
      'chat_socket_connections',
      'chat_messages_stored_total',
      'chat_deliveries_total',
      'chat_delivery_latency_seconds_bucket',
      'chat_resumes_total',
      'chat_dependency_errors_total',
      'chat_password_hash_queue_depth',
      'chat_password_hash_refusals_total',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(used, `no panel shows ${name}`).toContain(name);
    }
  });
});
