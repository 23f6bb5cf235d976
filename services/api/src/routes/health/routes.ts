import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import type { HealthReport } from '@chat/shared/health';
import { healthSchema, livenessSchema, presentHealth, presentLiveness, presentReadiness, readinessSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { json } from '../../openapi/responses.ts';

const tags = ['health'];

/** `/health` keeps the seed's body; `/health/live` and `/health/ready` are for orchestrators. */
export function healthRoutes(deps: { check: () => Promise<HealthReport>; draining: () => boolean }) {
  return new Hono<AppEnv>()
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Health, in the seed-compatible shape',
        responses: { 200: json(healthSchema, 'PostgreSQL and Redis answer'), 503: json(healthSchema, 'A dependency does not answer') },
      }),
      async (c) => {
        const report = await deps.check();
        return c.json(presentHealth(report), report.healthy ? 200 : 503);
      },
    )
    .get('/live', describeRoute({ tags, summary: 'Liveness: the process serves HTTP', responses: { 200: json(livenessSchema, 'Alive') } }), (c) =>
      c.json(presentLiveness()),
    )
    .get(
      '/ready',
      describeRoute({
        tags,
        summary: 'Readiness: PostgreSQL and Redis answer and the replica is not draining',
        responses: {
          200: json(readinessSchema, 'Ready'),
          503: json(readinessSchema, 'Not ready: a dependency is down, or the replica is shutting down'),
        },
      }),
      async (c) => {
        const body = presentReadiness(await deps.check(), deps.draining());
        return c.json(body, body.status === 'ready' ? 200 : 503);
      },
    );
}
