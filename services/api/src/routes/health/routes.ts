import { Hono } from 'hono';
import type { HealthReport } from '@chat/shared/health';
import { presentHealth } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';

export function healthRoutes(deps: { check: () => Promise<HealthReport> }) {
  return new Hono<AppEnv>().get('/', async (c) => {
    const report = await deps.check();
    return c.json(presentHealth(report), report.healthy ? 200 : 503);
  });
}
