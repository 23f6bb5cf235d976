import { loadavg } from 'node:os';
import path from 'node:path';
import { createBenchDatabase, startBenchCluster, type BenchCluster, type BenchDatabase } from './cluster.ts';
import { describeMachine } from './machine.ts';
import { parseOptions, type SectionName } from './options.ts';
import { profilesMarkdown, summarizeProfiles } from './profile.ts';
import { fileStamp, summaryTable, writeReport } from './report.ts';
import { runDoor } from './sections/door.ts';
import { runFanout } from './sections/fanout.ts';
import { runHistory } from './sections/history.ts';
import { runIdle } from './sections/idle.ts';
import { runLatency } from './sections/latency.ts';
import { runMetrics } from './sections/metrics.ts';
import { runSend } from './sections/send.ts';
import { runSoak } from './sections/soak.ts';
import { runTargeting } from './sections/targeting.ts';
import { runUploads } from './sections/uploads.ts';
import { runWebhooks } from './sections/webhooks.ts';
import type { BenchContext, SectionResult } from './types.ts';
import { killAllWorkers } from './worker.ts';

// `npm run bench [-- section ... --rounds=N --quick --metrics=off]`: a cluster of
// its own (fresh database, own Redis prefix), each figure next to a bare baseline
// measured in the same run, and a report in loadtest/reports/.

const root = path.resolve(import.meta.dirname, '../..');
const say = (line: string) => console.log(`bench      | ${line}`);

type Runner = (ctx: BenchContext, done: ReadonlyMap<SectionName, SectionResult>) => Promise<SectionResult>;
const RUNNERS: Record<Exclude<SectionName, 'metrics'>, Runner> = {
  send: runSend,
  latency: runLatency,
  fanout: runFanout,
  targeting: runTargeting,
  idle: runIdle,
  door: runDoor,
  history: runHistory,
  uploads: runUploads,
  webhooks: runWebhooks,
  soak: runSoak,
};

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  say(
    `sections: ${opts.sections.join(', ')}; ${opts.rounds} round(s)${opts.quick ? '; quick' : ''}; load average ${machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
  );

  let db: BenchDatabase | undefined;
  let cluster: BenchCluster | undefined;
  const cleanUp = async () => {
    killAllWorkers();
    await cluster?.stop();
    await db?.drop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping the cluster, dropping the database and the Redis keys`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  const profileDir = opts.cpuProf ? path.join(root, 'loadtest/reports', `profiles-${fileStamp(startedAt)}`) : undefined;
  const done = new Map<SectionName, SectionResult>();
  try {
    db = await createBenchDatabase();
    cluster = await startBenchCluster(db, { metricsEnabled: true, profileDir });
    say(
      `cluster up: nginx ${cluster.lbUrl}, api ${cluster.apiPorts.join(',')}, gateways ${cluster.gatewayPorts.join(',')}; database ${db.database.name}, Redis prefix ${db.redisPrefix}; log ${cluster.logPath}`,
    );
    const ctx: BenchContext = { opts, db, cluster, say };
    for (const name of opts.sections) {
      if (name === 'metrics') continue;
      say(`--- ${name}`);
      done.set(name, await RUNNERS[name](ctx, done));
    }
    if (opts.sections.includes('metrics')) {
      say('--- metrics: send and fanout again on a cluster with METRICS_ENABLED=false');
      const result = await runMetrics(ctx, done, async () => {
        await cluster?.stop();
        cluster = await startBenchCluster(db as BenchDatabase, { metricsEnabled: false, profileDir });
        say(`cluster without metrics up (log ${cluster.logPath})`);
        return cluster;
      });
      done.set('metrics', result);
    }
  } finally {
    await cleanUp();
  }

  const sections = opts.sections.flatMap((s) => done.get(s) ?? []);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const mdPath = await writeReport(path.join(root, 'loadtest/reports'), {
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    options: opts,
    machine,
    loadAverageAtEnd: loadavg(),
    sections,
    // Written by the services as they stopped (cleanUp above waited for them).
    ...(profileDir ? { profiles: profilesMarkdown(await summarizeProfiles(profileDir), root) } : {}),
  });
  console.log(`\n${summaryTable(sections)}\n`);
  say(`report: ${path.relative(root, mdPath)}${opts.cpuProf ? ' (profiled: latest.md left as it was)' : ' (and loadtest/reports/latest.md)'}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
