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

describe('deploy/Dockerfile', () => {
  it('is multi-stage, installs production dependencies only and runs as a non-root user', async () => {
    const dockerfile = await read('deploy/Dockerfile');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\}|^ARG NODE_IMAGE=node:24/m);
  });
});
