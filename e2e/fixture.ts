import { createServer } from 'node:net';
import path from 'node:path';
import { inject } from 'vitest';
import { testRedisEnv } from '@chat/shared/testing';
import { startCluster, type RunningCluster } from '../scripts/cluster/cluster.ts';
import { findNginx } from '../scripts/cluster/preflight.ts';

/** Distinct free ports: all held open at once, so no two can be the same. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * The whole topology as processes (2 API, 2 gateways, nginx on :8080), on the
 * run's database and the given Redis prefix, as every e2e file uses it.
 */
export async function startE2eCluster(opts: {
  prefix: string;
  env?: Record<string, string>;
  output: (name: string, line: string) => void;
}): Promise<{ cluster: RunningCluster; ports: { api: number[]; gateway: number[] } }> {
  const [a1, a2, g1, g2] = (await freePorts(4)) as [number, number, number, number];
  const ports = { api: [a1, a2], gateway: [g1, g2] };
  const cluster = await startCluster({
    root: path.resolve(import.meta.dirname, '..'),
    nginxBin: await findNginx(undefined),
    apiPorts: ports.api,
    gatewayPorts: ports.gateway,
    serviceEnv: {
      DATABASE_URL: inject('databaseUrl'),
      // The shared test Redis: REDIS_URL, or REDIS_CLUSTER_NODES on a cluster run (the other one empty).
      ...testRedisEnv(),
      REDIS_PREFIX: opts.prefix,
      JWT_SECRET: 'e2e-secret-that-is-long-enough-for-hs256',
      ENVIRONMENT: 'test',
      ...opts.env,
    },
    output: opts.output,
  });
  return { cluster, ports };
}
