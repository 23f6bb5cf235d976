import { terminateBackends } from './database-checks.ts';
import { pausedClients } from './fault-paused.ts';
import { seconds, type Fault, type FaultContext, type FaultOutcome } from './fault.ts';

/** SIGKILL to one replica; the runner restarts it. The note says when it was back. */
function killReplica(name: string, slug: string): Fault {
  return {
    slug,
    name: `kill -9 ${name}`,
    async inject(ctx: FaultContext): Promise<FaultOutcome> {
      const pid = ctx.cluster.pid(name);
      const at = Date.now();
      ctx.cluster.kill(name, 'SIGKILL');
      const restarted = await ctx.log.waitFor(at, at + 30_000, (l) => l.name === 'cluster' && l.line.startsWith(`${name} restarted`));
      if (!restarted) return { notes: [`${name} (pid ${pid}) killed`], failures: [`${name} was not restarted within 30 s`] };
      return { notes: [`${name} (pid ${pid}) killed, restarted after ${seconds(restarted.at - at)}`], failures: [] };
    },
  };
}

const redisRestart: Fault = {
  slug: 'redis-restart',
  name: 'Redis SIGKILL + restart',
  async inject(ctx) {
    const at = Date.now();
    await ctx.redis.kill();
    await new Promise((resolve) => setTimeout(resolve, ctx.opts.redisDownMs));
    await ctx.redis.start();
    return { notes: [`Redis killed, started again empty on the same port after ${seconds(Date.now() - at)}`], failures: [] };
  },
};

const pgTerminate: Fault = {
  slug: 'pg-terminate',
  name: 'PostgreSQL backends terminated',
  async inject(ctx) {
    const n = await terminateBackends(ctx.adminUrl, ctx.databaseName);
    return { notes: [`pg_terminate_backend: ${n} backends of ${ctx.databaseName}`], failures: [] };
  },
};

/** The faults, in the order the suite injects them. */
export const FAULTS: Fault[] = [killReplica('gateway-1', 'gateway-kill'), killReplica('api-1', 'api-kill'), redisRestart, pgTerminate, pausedClients];
