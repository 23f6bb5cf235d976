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
