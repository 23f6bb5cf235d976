import type { HealthReport } from '../health.ts';

/** The seed-compatible `/health` body, shared by every service; `extra` names the replica where useful. */
export const presentHealth = (report: HealthReport, extra: Record<string, string> = {}, now = new Date()) => ({
  status: report.healthy ? 'healthy' : 'unhealthy',
  database: report.database,
  redis: report.redis,
  ...extra,
  timestamp: now.toISOString(),
});
