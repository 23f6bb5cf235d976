import { z } from 'zod';
import { redisNodeList } from './common.ts';
import { ConfigError, int, port, readEnv, type Env } from './env.ts';

/** The local cluster runner's own settings; everything else passes through to the services. */
export interface ClusterConfig {
  apiReplicas: number;
  gatewayReplicas: number;
  apiBasePort: number;
  gatewayBasePort: number;
  nginxBin: string | undefined;
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES as given (`host:port,...`): the services use this Redis Cluster instead of REDIS_URL. */
  redisClusterNodes: string | undefined;
}

const clusterShape = {
  API_REPLICAS: int(2, 1, 16),
  GATEWAY_REPLICAS: int(2, 1, 16),
  API_BASE_PORT: port(3000),
  GATEWAY_BASE_PORT: port(3100),
  NGINX_BIN: z.string().optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }).default('postgres://postgres@127.0.0.1:5432/chat'),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// URL' }).default('redis://127.0.0.1:6379'),
  // Passed on to the services as it is (with REDIS_USERNAME / REDIS_PASSWORD from the environment, if set).
  REDIS_CLUSTER_NODES: redisNodeList(),
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
    apiBasePort: v.API_BASE_PORT,
    gatewayBasePort: v.GATEWAY_BASE_PORT,
    nginxBin: v.NGINX_BIN,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    redisClusterNodes: v.REDIS_CLUSTER_NODES === undefined ? undefined : env.REDIS_CLUSTER_NODES,
  };
}
