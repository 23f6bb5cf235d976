import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_VARIABLES, DATABASE_VARIABLES, GATEWAY_VARIABLES } from '@chat/shared/config';

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
}

let services: Record<string, Service>;
let scripts: Record<string, string>;

/** Which program a service runs, and so which configuration schema applies to it. */
const ROLES: Record<string, { file: string; variables: string[] }> = {
  api: { file: 'services/api/src/main.ts', variables: API_VARIABLES },
  gateway: { file: 'services/gateway/src/main.ts', variables: GATEWAY_VARIABLES },
  migrate: { file: 'shared/src/db/migrate-cli.ts', variables: DATABASE_VARIABLES },
};
const roleOf = (service: Service) => Object.entries(ROLES).find(([, r]) => service.command?.includes(r.file))?.[0];
const servicesOf = (role: string) => Object.entries(services).filter(([, s]) => roleOf(s) === role);

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
  it('has the whole topology: postgres, redis, one-shot migrate, several api and gateway replicas, nginx', () => {
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(servicesOf('migrate')).toHaveLength(1);
    expect(servicesOf('api').length).toBeGreaterThanOrEqual(2);
    expect(servicesOf('gateway').length).toBeGreaterThanOrEqual(2);
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

  it('matches the nginx upstream includes: every replica listed once, on the port it listens on', async () => {
    for (const role of ['api', 'gateway']) {
      const declared = servicesOf(role).map(([name, s]) => `${name}:${s.environment?.PORT}`);
      expect((await upstreamServers(`deploy/compose/upstreams/${role}.conf`)).sort()).toEqual(declared.sort());
    }
  });

  it('gives each gateway its own GATEWAY_ID and health-checks each service on its own port', () => {
    const ids = servicesOf('gateway').map(([, s]) => s.environment?.GATEWAY_ID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [name, service] of [...servicesOf('api'), ...servicesOf('gateway')]) {
      expect(service.healthcheck?.test.join(' '), name).toContain(`127.0.0.1:${service.environment?.PORT}/health`);
    }
  });

  it('starts the app only after its dependencies are healthy and migrations are done', () => {
    for (const [name, service] of [...servicesOf('api'), ...servicesOf('gateway')]) {
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
    for (const [name, service] of [...servicesOf('api'), ...servicesOf('gateway')]) {
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
});

/** `${NAME:?message}`: compose refuses to start without NAME, so no default password can slip in. */
const REQUIRED_VARIABLE = /^\$\{(\w+):\?[^}]*\}$/;
/** scheme://user:password@host:port/... with the password a required variable. */
function credentialsOf(url: string | undefined): { user: string; passwordVariable: string; host: string } | undefined {
  const m = /^\w+:\/\/([^:@/]+):(\$\{[^}]+\})@([\w.-]+:\d+)/.exec(url ?? '');
  const passwordVariable = REQUIRED_VARIABLE.exec(m?.[2] ?? '')?.[1];
  return m && passwordVariable ? { user: m[1] as string, passwordVariable, host: m[3] as string } : undefined;
}
/** The `user <name> ...` lines of deploy/redis/users.acl, by name. */
async function aclUsers(): Promise<Map<string, string[]>> {
  const lines = (await read('deploy/redis/users.acl')).split('\n').filter((l) => /^user\s/.test(l));
  return new Map(lines.map((l) => l.trim().split(/\s+/)).map((words) => [words[1] as string, words.slice(2)]));
}
/** Where a service mounts a repository file (`./src:/target[:ro]`). */
const mountOf = (service: Service | undefined, source: string) =>
  service?.volumes?.map((v) => v.split(':')).find(([from]) => from === source)?.[1];

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
      if (!rules.includes('on')) continue;
      // start.sh appends the password; a `nopass` or a password written into the file would bypass it.
      expect(rules.filter((r) => r === 'nopass' || r.startsWith('>') || r.startsWith('#')), name).toEqual([]);
      expect(rules, `${name} may not run everything`).not.toContain('+@all');
      expect(rules, `${name} may not touch every key`).not.toContain('~*');
      expect(rules, `${name} may not use every channel`).not.toContain('&*');
      // An allow-list: everything off first, then no administrative or keyspace-wide command back on.
      expect(rules.indexOf('-@all'), `${name}: -@all before any +command`).toBeLessThan(rules.findIndex((r) => r.startsWith('+')));
      const dangerous = ['+@dangerous', '+@admin', '+keys', '+flushall', '+flushdb', '+config', '+acl', '+debug', '+shutdown', '+monitor', '+module', '+script|flush'];
      expect(rules.filter((r) => dangerous.includes(r.toLowerCase()) || r.startsWith('+@')), name).toEqual([]);
    }
    // The health check authenticates too, so a healthy Redis is one that loaded the ACL file.
    expect(redis?.healthcheck?.test.join(' ')).toMatch(/REDISCLI_AUTH=.*--user chat ping/);
  });

  it('every service that talks to Redis does so as the ACL user, with the password variable, inside its keys and channels', async () => {
    const users = await aclUsers();
    const talkers = Object.entries(services).filter(([, s]) => s.environment?.REDIS_URL !== undefined);
    expect(talkers.map(([name]) => name).sort()).toEqual([...servicesOf('api'), ...servicesOf('gateway')].map(([name]) => name).sort());
    for (const [name, service] of talkers) {
      const credentials = credentialsOf(service.environment?.REDIS_URL);
      expect(credentials, `${name}: REDIS_URL must be redis://user:\${VAR:?}@redis:6379`).toMatchObject({ host: 'redis:6379', passwordVariable: 'REDIS_PASSWORD' });
      const rules = users.get(credentials?.user ?? '');
      expect(rules, `${name}: ${credentials?.user} is not an enabled user of users.acl`).toContain('on');
      const prefix = service.environment?.REDIS_PREFIX ?? 'chat:';
      expect(rules, `${name}: keys under ${prefix}`).toContain(`~${prefix}*`);
      expect(rules, `${name}: channels under ${prefix}`).toContain(`&${prefix}*`);
    }
  });

  it('the API and gateways connect to PostgreSQL as the application role; only migrate connects as the owner', async () => {
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

    for (const [name, service] of [...servicesOf('api'), ...servicesOf('gateway')]) {
      expect(credentialsOf(service.environment?.DATABASE_URL), name).toEqual({
        user: appRole,
        passwordVariable: 'POSTGRES_APP_PASSWORD',
        host: 'postgres:5432',
      });
    }
    for (const [name, service] of servicesOf('migrate')) {
      expect(credentialsOf(service.environment?.DATABASE_URL), name).toEqual({ user: owner, passwordVariable: 'POSTGRES_PASSWORD', host: 'postgres:5432' });
    }
  });

  it('limits the memory of every container', () => {
    for (const [name, service] of Object.entries(services)) {
      const limit = service.mem_limit ?? service.deploy?.resources?.limits?.memory;
      expect(limit, `${name} has no memory limit`).toMatch(/^\d+(\.\d+)?[kmg]b?$/i);
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
});
