import { Hono } from 'hono';
import type { HealthReport } from '@chat/shared/health';
import type { AppEnv } from '../../env.ts';

export function healthRoutes(deps: { check: () => Promise<HealthReport> }) {
  return new Hono<AppEnv>().get('/', async (c) => {
    const report = await deps.check();
    return c.json(
      {
        status: report.healthy ? 'healthy' : 'unhealthy',
        database: report.database,
        redis: report.redis,
        timestamp: new Date().toISOString(),
      },
      report.healthy ? 200 : 503,
    );
  });
}
