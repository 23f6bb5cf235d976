import type { RunningCluster } from '../cluster/cluster.ts';
import type { ClusterLog } from './cluster-log.ts';
import type { FaultOptions } from './options.ts';
import type { OwnRedis } from './redis-process.ts';
import type { RedisCluster } from '@chat/shared/testing';
import type { User } from './rest.ts';
import type { WebhookReceiver } from './webhook-receiver.ts';

/** What a fault may touch. */
export interface FaultContext {
  cluster: RunningCluster;
  /** The suite's Redis: one redis-server, or (--redis-cluster) a cluster of 3 masters with a replica each. */
  redis: { kind: 'single'; server: OwnRedis } | { kind: 'cluster'; cluster: RedisCluster; prefix: string };
  adminUrl: string;
  databaseName: string;
  log: ClusterLog;
  opts: FaultOptions;
  /** Users of the paused-client fault: one per client kind, and the one that floods them. */
  pausedUsers: { ws: User; io: User; flooder: User };
  /** The worker replicas' names (`worker-1`, …), and the receiver their webhook deliveries go to. */
  workers: string[];
  webhooks: WebhookReceiver;
}

export interface FaultOutcome {
  /** What happened, for the line under the table. */
  notes: string[];
  /** Broken promises of the delivery contract other than loss and duplication. */
  failures: string[];
}

export interface Fault {
  /** Tags the phase's messages (`fault:<slug>:<key>`): letters and dashes. */
  slug: string;
  name: string;
  /** Injects the fault; may keep working (and the phase waits) until `until`, the end of the phase's load. */
  inject(ctx: FaultContext, until: number): Promise<FaultOutcome>;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
