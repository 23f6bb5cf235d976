import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { Metrics } from '@chat/shared/metrics';
import type { AppEnv } from '../env.ts';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Times every request into `http_request_duration_seconds`, labelled by the route
 * pattern Hono matched last (`/api/messages/between/:user1/:user2`, never the raw
 * path), the method (unknown ones as `OTHER`) and the status.
 */
export function requestMetrics(metrics: Metrics) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const stop = metrics.httpRequestDuration.startTimer();
    try {
      await next();
    } finally {
      const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER';
      stop({ route: routePath(c, -1), method, status: String(c.res.status) });
    }
  });
}
