import { z } from 'zod';
import { redisNodeList, type Environment } from './common.ts';
import { ConfigError, int, port, readEnv, type Env, type VariableMeta } from './env.ts';

/** The local cluster runner's own settings; everything else passes through to the services. */
export interface ClusterConfig {
  apiReplicas: number;
  gatewayReplicas: number;
  workerReplicas: number;
  apiBasePort: number;
  gatewayBasePort: number;
  workerBasePort: number;
  nginxBin: string | undefined;
  /** Passed to the services explicitly: a development tool asks for development defaults unless told otherwise. */
  environment: Environment;
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES as given (`host:port,...`): the services use this Redis Cluster instead of REDIS_URL. */
  redisClusterNodes: string | undefined;
  /** The cluster's ACL user, for the runner's own check (the services read the same variables). */
  redisUsername: string | undefined;
  redisPassword: string | undefined;
}

/** The variables `npm start` (scripts/cluster/) reads; the services it starts get the whole environment besides. */
export const clusterShape = {
  API_REPLICAS: int(2, 1, 16).meta({ description: 'API replicas to run.' }),
  GATEWAY_REPLICAS: int(2, 1, 16).meta({ description: 'Gateways to run.' }),
  WORKER_REPLICAS: int(2, 0, 16).meta({ description: 'Workers to run (webhooks and push); `0` runs none.' }),
  API_BASE_PORT: port(3000).meta({ description: 'Port of the first API replica; the others count up from it.' }),
  GATEWAY_BASE_PORT: port(3100).meta({ description: 'Port of the first gateway; the others count up from it.' }),
  WORKER_BASE_PORT: port(3200).meta({ description: 'Health port of the first worker; the others count up from it.' }),
  NGINX_BIN: z
    .string()
    .optional()
    .meta({
      description: 'The nginx binary.',
      defaultText: '`nginx` on `PATH`, else `/usr/sbin/nginx`, `/usr/local/sbin/nginx`',
    } satisfies VariableMeta),
  ENVIRONMENT: z.enum(['development', 'test', 'production']).default('development').meta({
    description: 'Passed to every service explicitly, so by default they run with development defaults (the built-in `JWT_SECRET` among them).',
  }),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
    .default('postgres://postgres@127.0.0.1:5432/chat')
    .meta({
      description: 'The database; created if it does not exist, migrated, and passed to the services.',
      values: '`postgres://` or `postgresql://` URL',
    } satisfies VariableMeta),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// URL' })
    .default('redis://127.0.0.1:6379')
    .meta({ description: 'A single Redis, checked and passed to the services.', values: '`redis://` or `rediss://` URL' } satisfies VariableMeta),
  REDIS_CLUSTER_NODES: redisNodeList().meta({
    description:
      'A Redis Cluster instead of `REDIS_URL` (not both): checked, and passed on to the services as it is, with `REDIS_URL` emptied. `node scripts/redis-cluster.ts -- npm start` starts one.',
  }),
  REDIS_USERNAME: z
    .string()
    .optional()
    .meta({ description: "With `REDIS_CLUSTER_NODES`: the ACL user for the runner's check; the services read it too." }),
  REDIS_PASSWORD: z
    .string()
    .optional()
    .meta({ description: "With `REDIS_CLUSTER_NODES`: the password for the runner's check; the services read it too." }),
};

export function loadClusterConfig(env: Env): ClusterConfig {
  const problems: string[] = [];
  const v = readEnv(env, clusterShape, problems);
  // As the services do: with both, which Redis is meant would be a guess.
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES)
    problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL (a single Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    apiReplicas: v.API_REPLICAS,
    gatewayReplicas: v.GATEWAY_REPLICAS,
    workerReplicas: v.WORKER_REPLICAS,
    apiBasePort: v.API_BASE_PORT,
    gatewayBasePort: v.GATEWAY_BASE_PORT,
    workerBasePort: v.WORKER_BASE_PORT,
    nginxBin: v.NGINX_BIN,
    environment: v.ENVIRONMENT,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    redisClusterNodes: v.REDIS_CLUSTER_NODES === undefined ? undefined : env.REDIS_CLUSTER_NODES,
    redisUsername: v.REDIS_USERNAME,
    redisPassword: v.REDIS_PASSWORD,
  };
}
