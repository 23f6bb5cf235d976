import type { HealthReport } from '../health.ts';

/** The seed-compatible `/health` body, shared by every service; `extra` names the replica where useful. */
export const presentHealth = (report: HealthReport, extra: Record<string, string> = {}, now = new Date()) => ({
  status: report.healthy ? 'healthy' : 'unhealthy',
  database: report.database,
  redis: report.redis,
  ...extra,
  timestamp: now.toISOString(),
});

/** `GET /health/live`: the process runs and serves HTTP; nothing else is asked. */
export const presentLiveness = (now = new Date()) => ({ status: 'alive', timestamp: now.toISOString() });

/** `GET /health/ready`: it can serve (PostgreSQL and Redis answer) and is not draining for shutdown. */
export const presentReadiness = (report: HealthReport, draining: boolean, now = new Date()) => ({
  status: report.healthy && !draining ? 'ready' : 'not_ready',
  database: report.database,
  redis: report.redis,
  draining,
  timestamp: now.toISOString(),
});

/**
 * The health answers of a service on its own node:http listener (gateway,
 * worker): `/health`, `/health/live`, `/health/ready`, or undefined for any
 * other path. The API answers the same through its Hono routes.
 */
export async function healthAnswer(
  path: string,
  deps: { health: () => Promise<HealthReport>; draining: boolean; replica: Record<string, string> },
): Promise<{ status: number; body: object } | undefined> {
  if (path === '/health/live') return { status: 200, body: presentLiveness() };
  if (path === '/health/ready') {
    const body = presentReadiness(await deps.health(), deps.draining);
    return { status: body.status === 'ready' ? 200 : 503, body };
  }
  if (path === '/health') {
    const report = await deps.health();
    return { status: report.healthy ? 200 : 503, body: presentHealth(report, deps.replica) };
  }
  return undefined;
}
