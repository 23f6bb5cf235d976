import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerConfig } from '@chat/shared/config';
import type { Connections } from '@chat/shared/connections';
import type { HealthReport } from '@chat/shared/health';
import { createPushQueue, createTargetGuard, createWebhookQueue, type Lookup } from '@chat/shared/integrations';
import type { Logger } from '@chat/shared/logger';
import type { Metrics } from '@chat/shared/metrics';
import type { PresenceReader } from '@chat/shared/presence';
import { healthAnswer } from '@chat/shared/presenters';
import { createLoop, type Loop } from './loop.ts';
import { createPushReader } from './push/reader.ts';
import { createPushSender } from './push/sender.ts';
import { createWebhookDeliverer } from './webhooks/deliverer.ts';

const USER_AGENT = 'chat-worker/1 (+webhooks; docs/webhooks.md)';
/** How often old delivery attempts are pruned, and how many at a time. */
const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_BATCH = 5_000;

export interface WorkerDeps {
  config: WorkerConfig;
  db: Connections['db'];
  presence: Pick<PresenceReader, 'onlineAmong'>;
  health: () => Promise<HealthReport>;
  logger: Logger;
  metrics: Metrics;
  /** The tests' resolver (names that resolve into private networks); the system's by default. */
  lookup?: Lookup;
}

export interface Worker {
  listen(): Promise<number>;
  /** Runs every loop once now (tests wait on outcomes, not intervals). */
  kick(): void;
  close(): Promise<void>;
}

/**
 * The worker service: webhook deliveries and Web Push, from the
 * commit-ordered log, next to a health listener. Every piece of work is
 * leased in PostgreSQL, so replicas share it with no coordination of their
 * own, and a stopped or killed replica's share passes to the others.
 */
export function createWorker(deps: WorkerDeps): Worker {
  const { config, logger, metrics } = deps;
  const guard = createTargetGuard(config.integrations.allowedTargets, deps.lookup);
  const webhooks = createWebhookQueue(deps.db);
  const deliverer = createWebhookDeliverer({ queue: webhooks, guard, logger, metrics, settings: config.webhooks, userAgent: USER_AGENT });
  const loops: Loop[] = [
    createLoop('webhooks', config.webhooks.pollIntervalMs, () => deliverer.poll(), logger),
    createLoop(
      'webhook-retention',
      PRUNE_INTERVAL_MS,
      async () => {
        while ((await webhooks.prune(config.webhooks.retentionMs, PRUNE_BATCH)) === PRUNE_BATCH);
      },
      logger,
    ),
  ];
  const vapid = config.push.vapid;
  const pushQueue = createPushQueue(deps.db);
  const pushReader = vapid ? createPushReader({ queue: pushQueue, leaseMs: config.webhooks.leaseMs, coalesceMs: config.push.coalesceMs }) : undefined;
  if (vapid && pushReader) {
    const sender = createPushSender({
      queue: pushQueue,
      presence: deps.presence,
      guard,
      logger,
      metrics,
      settings: { ...config.push, vapid },
      timeoutMs: config.webhooks.timeoutMs,
      userAgent: USER_AGENT,
    });
    loops.push(createLoop('push-reader', config.webhooks.pollIntervalMs, () => pushReader.step(), logger));
    loops.push(createLoop('push-sender', config.webhooks.pollIntervalMs, () => sender.step(), logger));
  }

  let closing = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const reply = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const answer =
      req.method === 'GET'
        ? healthAnswer(path, { health: deps.health, draining: closing, replica: { worker_id: config.workerId } })
        : Promise.resolve(undefined);
    void answer.then((health) => (health ? reply(health.status, health.body) : reply(404, { error: 'not found', code: 'not_found' })));
  });

  return {
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      for (const loop of loops) loop.start();
      logger.info({ push: vapid ? 'on' : 'off (no VAPID keys)', webhookConcurrency: config.webhooks.concurrency }, 'worker started');
      return (server.address() as AddressInfo).port;
    },
    kick() {
      for (const loop of loops) loop.kick();
    },
    async close() {
      closing = true;
      // No new leases; attempts under way finish and their leases go back, so
      // other replicas continue at once instead of after WEBHOOK_LEASE.
      await Promise.all(loops.map((loop) => loop.stop()));
      await deliverer.drain();
      await pushReader?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
