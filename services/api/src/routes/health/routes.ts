import { Hono } from 'hono';
import type { HealthReport } from '@chat/shared/health';
import { presentHealth, presentLiveness, presentReadiness } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';

/** `/health` keeps the seed's body; `/health/live` and `/health/ready` are for orchestrators. */
export function healthRoutes(deps: { check: () => Promise<HealthReport>; draining: () => boolean }) {
  return new Hono<AppEnv>()
    .get('/', async (c) => {
      const report = await deps.check();
      return c.json(presentHealth(report), report.healthy ? 200 : 503);
    })
    .get('/live', (c) => c.json(presentLiveness()))
    .get('/ready', async (c) => {
      const body = presentReadiness(await deps.check(), deps.draining());
      return c.json(body, body.status === 'ready' ? 200 : 503);
    });
}
