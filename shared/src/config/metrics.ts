import { z } from 'zod';
import { port } from './env.ts';

/** The Prometheus endpoint's own listener; nginx does not publish it. */
export interface MetricsConfig {
  /**
   * METRICS_ENABLED=false: no endpoint, no process metrics, no HTTP timings.
   * For measuring what metrics cost (npm run bench), not for production.
   */
  enabled: boolean;
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/** The variables of a service's metrics endpoint, listening on `defaultPort` unless METRICS_PORT says otherwise. */
export const metricsShape = (defaultPort: number) => ({
  METRICS_ENABLED: z.stringbool({ error: 'must be true or false' }).default(true).meta({
    description:
      '`false`: no metrics listener, no process metrics, no HTTP timings. For measuring what metrics cost (`npm run bench -- --metrics=off`), not for production.',
  }),
  METRICS_HOST: z.string().default('0.0.0.0').meta({ description: 'Address the metrics listener binds.' }),
  METRICS_PORT: port(defaultPort).meta({
    description:
      'Prometheus `GET /metrics` on a listener of its own, which nginx does not publish; `0` picks a free port (tests, several replicas on one host).',
  }),
});

export const readMetricsConfig = (v: { METRICS_ENABLED: boolean; METRICS_HOST: string; METRICS_PORT: number }): MetricsConfig => ({
  enabled: v.METRICS_ENABLED,
  host: v.METRICS_HOST,
  port: v.METRICS_PORT,
});
