import { createCursorCodec } from '@chat/shared/chat';
import path from 'node:path';
import { createTestDatabase, freePort, startRedisCluster, type RedisCluster, type TestDatabase } from '@chat/shared/testing';
import { LB_PORT, startCluster, type RunningCluster } from '../cluster/cluster.ts';
import { checkPortsFree, findNginx } from '../cluster/preflight.ts';
import { ClusterLog } from './cluster-log.ts';
import { FLOOD_MESSAGE_CHARS } from './fault-paused.ts';
import { CLUSTER_FAULTS, FAULTS } from './faults.ts';
import { Load } from './load.ts';
import { parseOptions } from './options.ts';
import { runPhase, type PhaseRow } from './phase.ts';
import { populate, type Population } from './population.ts';
import { startOwnRedis, type OwnRedis } from './redis-process.ts';
import { failed, formatDetails, formatTable, formatWebhookTable, webhooksFailed } from './report.ts';
import { Tracker } from './tracker.ts';
import { until } from './transport.ts';
import { WEBHOOK_TIMEOUT_MS, WebhookReceiver } from './webhook-receiver.ts';
import { checkWebhooks, dumpWebhooks, registerWebhooks, settleWebhooks } from './webhooks.ts';

const JWT_SECRET = 'fault-suite-secret-that-is-long-enough-for-hs256';

// `npm run test:faults [-- --short] [--redis-cluster]`: a cluster of its own (fresh
// database, own redis-server, or its own Redis Cluster of 3 masters with a replica
// each) under steady load from every kind of client, one fault per
// phase, and a table of what was sent, acknowledged, stored, lost, duplicated
// and recovered; then a table of the webhook deliveries two workers made from
// the same log meanwhile. Exits non-zero if an acknowledged message was lost or
// duplicated, or a webhook event was lost or came out of order.

const root = path.resolve(import.meta.dirname, '../..');
const say = (line: string) => console.log(`faults     | ${line}`);
const PREFIX = 'faults:';
/** Short enough that a killed master's replica takes over within a phase, long enough that a busy 2-core machine fails no healthy one. */
const CLUSTER_NODE_TIMEOUT_MS = 3_000;
/** After the last phase, how long the workers may take to deliver every webhook event. */
const WEBHOOK_SETTLE_MS = 30_000;

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  const nginxBin = await findNginx(process.env.NGINX_BIN);
  await checkPortsFree([LB_PORT]);
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const log = new ClusterLog();
  say(
    `${opts.short ? 'short run' : 'full run'}${opts.redisCluster ? ' on a Redis Cluster (3 masters, 1 replica each)' : ''}: ${opts.phaseMs / 1000} s of load per phase, ${opts.receiversPerKind} receivers of each kind; cluster log: ${log.path}`,
  );

  let redis: OwnRedis | undefined;
  let redisCluster: RedisCluster | undefined;
  let database: TestDatabase | undefined;
  let cluster: RunningCluster | undefined;
  let population: Population | undefined;
  const webhooks = new WebhookReceiver();
  const cleanUp = async () => {
    for (const client of [...(population?.receivers ?? []), ...(population?.senders ?? [])]) client.close();
    await cluster?.stop();
    await webhooks.close();
    await redis?.stop();
    await redisCluster?.stop();
    await database?.drop();
    await log.close();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    let redisEnv: Record<string, string>;
    if (opts.redisCluster) {
      redisCluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS });
      redisEnv = { REDIS_CLUSTER_NODES: redisCluster.nodeList };
      // The services read the environment too: a REDIS_URL there would contradict the cluster.
      delete process.env.REDIS_URL;
    } else {
      redis = await startOwnRedis();
      redisEnv = { REDIS_URL: redis.url };
    }
    database = await createTestDatabase({ adminUrl, prefix: 'chat_faults' });
    const [api1, api2, gw1, gw2, wk1, wk2] = await distinctFreePorts(6);
    const workerPorts = [wk1 as number, wk2 as number];
    await webhooks.listen();
    cluster = await startCluster({
      root,
      nginxBin,
      apiPorts: [api1 as number, api2 as number],
      gatewayPorts: [gw1 as number, gw2 as number],
      workerPorts,
      serviceEnv: {
        DATABASE_URL: database.url,
        ...redisEnv,
        REDIS_PREFIX: PREFIX,
        JWT_SECRET,
        ENVIRONMENT: 'test',
        LOG_LEVEL: 'info',
        // The paused-client fault floods with large direct messages, so buffers fill within a phase.
        MESSAGE_MAX_LENGTH: String(FLOOD_MESSAGE_CHARS + 100),
        // Every client here comes from 127.0.0.1, and the flood is one user: rate limits
        // (0 switches one off) would measure themselves, not the faults.
        REGISTER_ADDRESS_LIMIT: '0',
        LOGIN_ADDRESS_LIMIT: '0',
        HANDSHAKE_ADDRESS_LIMIT: '0',
        MESSAGE_RATE_LIMIT: '0',
        REACTION_RATE_LIMIT: '0',
        READ_RATE_LIMIT: '0',
        // Webhooks go to the suite's receiver on 127.0.0.1; quick polls, retries and lease
        // expiry so each fault's effect on them shows within a phase, and never a pause.
        WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8',
        WEBHOOK_POLL_INTERVAL: '100ms',
        WEBHOOK_RETRY_BASE: '100ms',
        WEBHOOK_RETRY_MAX: '2s',
        WEBHOOK_LEASE: '5s',
        WEBHOOK_TIMEOUT: `${WEBHOOK_TIMEOUT_MS}ms`,
        WEBHOOK_MAX_FAILURES: '1000',
      },
      output: log.output,
    });
    say(`cluster up on ${cluster.url} (database ${database.name}, Redis ${redis?.url ?? `cluster ${redisCluster?.nodeList}`})`);

    const tracker = new Tracker();
    population = await populate(tracker, opts.receiversPerKind);
    const { receivers } = population;
    if (!(await until(() => receivers.every((r) => r.isLive()), 30_000))) throw new Error('not every receiver connected');
    say(`${receivers.length} receivers connected, ${population.senders.length} senders`);
    const hooks = await registerWebhooks(webhooks, population.users, database.url);
    say(`${hooks.length} webhooks to ${webhooks.url('<label>')}, delivered by ${workerPorts.length} workers`);

    const load = new Load(population.senders, population.addressing, tracker, { intervalMs: opts.sendIntervalMs, deadlineMs: opts.sendDeadlineMs });
    const ctx = {
      tracker,
      load,
      receivers,
      opts,
      databaseUrl: database.url,
      // The cluster's cursors, to name each change entry the log holds as receivers see it.
      cursors: createCursorCodec(JWT_SECRET),
      log,
      faults: {
        cluster,
        redis: redisCluster
          ? { kind: 'cluster' as const, cluster: redisCluster, prefix: PREFIX }
          : { kind: 'single' as const, server: redis as OwnRedis },
        adminUrl,
        databaseName: database.name,
        log,
        opts,
        pausedUsers: population.pausedUsers,
        workers: workerPorts.map((_, i) => `worker-${i + 1}`),
        webhooks,
      },
    };
    const rows: PhaseRow[] = [];
    const phases = [undefined, ...(opts.redisCluster ? CLUSTER_FAULTS : FAULTS)];
    for (const [i, fault] of phases.entries()) {
      say(`phase ${i + 1}/${phases.length}: ${fault?.name ?? 'baseline, no fault'}`);
      webhooks.setPhase(fault?.slug ?? 'baseline');
      const row = await runPhase(ctx, fault?.slug ?? 'baseline', fault);
      rows.push(row);
      say(`  sent ${row.sent}, acked ${row.acked}, stored ${row.stored}, lost ${row.lost}, duplicated ${row.duplicated}`);
    }

    webhooks.setPhase('after the load');
    say('load over: waiting for the workers to deliver every webhook event');
    const caughtUpMs = await settleWebhooks(hooks, database.url, WEBHOOK_SETTLE_MS);
    say(
      caughtUpMs === undefined
        ? `webhooks: not caught up after ${WEBHOOK_SETTLE_MS / 1000} s`
        : `webhooks caught up ${(caughtUpMs / 1000).toFixed(1)} s after the load`,
    );
    const webhookRows = await checkWebhooks(webhooks, hooks, database.url);
    const webhookEvidence = log.path.replace(/\.log$/, '-webhooks.json');
    await dumpWebhooks(webhookEvidence, hooks, database.url);

    console.log(`\n${formatTable(rows)}\n`);
    const details = formatDetails(rows);
    if (details) console.log(`${details}\n`);
    console.log(`${formatWebhookTable(webhookRows)}\n`);
    const webhookDetails = formatDetails(webhookRows);
    if (webhookDetails) console.log(`${webhookDetails}\n`);
    say(`every webhook's expected events, receipts and recorded attempts: ${webhookEvidence}`);
    for (const problem of webhooks.problems.slice(0, 20)) console.log(`  ! webhook receiver: ${problem}`);
    if (webhooks.problems.length > 20) console.log(`  ! webhook receiver: ${webhooks.problems.length - 20} more problems`);
    const verdict = failed(rows) || webhooksFailed(webhookRows, webhooks.problems);
    say(
      verdict
        ? `FAILED: see the lines marked "!" above; cluster log: ${log.path}`
        : 'passed: nothing acknowledged was lost or duplicated; no webhook event lost or out of order',
    );
    return verdict ? 1 : 0;
  } finally {
    await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(2);
  },
);
