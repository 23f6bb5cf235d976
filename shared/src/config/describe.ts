import { z } from 'zod';
import { apiShape } from './api.ts';
import { clusterShape } from './cluster.ts';
import { databaseShape, sharedShape } from './common.ts';
import type { Shape, VariableMeta } from './env.ts';
import { gatewayShape } from './gateway.ts';
import { integrationsShape } from './integrations.ts';
import { workerShape } from './worker.ts';

/** One variable as docs/configuration.md shows it (npm run docs:config). */
export interface VariableDoc {
  name: string;
  /** Markdown: the default, or how it is chosen; `undefined` when there is none. */
  default: string | undefined;
  /** Markdown: the accepted values. */
  values: string;
  description: string;
}

/** A group of variables and the processes that read them. */
export interface ConfigSection {
  title: string;
  readBy: string;
  variables: VariableDoc[];
}

const code = (value: unknown) => `\`${String(value)}\``;
const count = (n: number) => n.toLocaleString('en-US');

/** What the schema itself says about its accepted values, unwrapping defaults, optionals and pipes (their input side). */
function valuesOf(schema: z.ZodType): string | undefined {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional) return valuesOf(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodPipe) {
    // z.stringbool(): text in, a boolean out.
    if (schema.out instanceof z.ZodBoolean) return '`true` or `false`';
    return valuesOf(schema.in as z.ZodType);
  }
  if (schema instanceof z.ZodEnum) {
    const options = schema.options.map(code);
    return options.length > 1 ? `${options.slice(0, -1).join(', ')} or ${options.at(-1)}` : (options[0] ?? '');
  }
  if (schema instanceof z.ZodNumber) {
    const kind = schema.isInt ? 'integer' : 'number';
    const { minValue: min, maxValue: max } = schema;
    if (min !== null && max !== null && Number.isFinite(min) && Number.isFinite(max)) return `${kind}, ${count(min)} to ${count(max)}`;
    return kind;
  }
  if (schema instanceof z.ZodString) return 'text';
  return undefined;
}

/** The schema's default as Markdown, or undefined when it has none. */
function defaultOf(schema: z.ZodType): string | undefined {
  if (schema instanceof z.ZodDefault) {
    const value: unknown = schema.def.defaultValue;
    return value === '' ? 'empty' : code(value);
  }
  if (schema instanceof z.ZodOptional) return undefined;
  if (schema instanceof z.ZodPipe) return defaultOf(schema.in as z.ZodType);
  return undefined;
}

/**
 * The variables of one shape as the documentation shows them: the schema's
 * `.meta()` (VariableMeta) for the description and for what the schema cannot say
 * itself, the schema for the rest. Throws when a variable has no description, so
 * a new variable cannot reach the documentation unexplained.
 */
export function describeShape(shape: Shape): VariableDoc[] {
  return Object.entries(shape).map(([name, schema]) => {
    const meta = (z.globalRegistry.get(schema) ?? {}) as VariableMeta;
    if (!meta.description) throw new Error(`${name}: no description; add .meta({ description }) to its schema in shared/src/config/`);
    const values = meta.values ?? valuesOf(schema);
    if (!values) throw new Error(`${name}: its accepted values cannot be read off the schema; add .meta({ values })`);
    return { name, default: meta.defaultText ?? defaultOf(schema), values, description: meta.description };
  });
}

/** Every variable of every process, grouped by who reads it. */
export function describeConfig(): ConfigSection[] {
  return [
    {
      title: 'Database',
      readBy: 'api, gateway, worker and the migration command (`npm run db:migrate`, compose `migrate`)',
      variables: describeShape(databaseShape),
    },
    { title: 'Every service', readBy: 'api, gateway and worker', variables: describeShape(sharedShape) },
    { title: 'Integrations', readBy: 'api and worker', variables: describeShape(integrationsShape) },
    { title: 'API', readBy: 'api (`services/api`)', variables: describeShape(apiShape) },
    { title: 'Gateway', readBy: 'gateway (`services/gateway`)', variables: describeShape(gatewayShape) },
    { title: 'Worker', readBy: 'worker (`services/worker`): webhooks and Web Push', variables: describeShape(workerShape) },
    {
      title: 'Local cluster runner',
      readBy:
        '`npm start` (`scripts/cluster/`), which passes its whole environment on to the services it starts, so every variable above applies to them too; the load-test runner (`loadtest/runner.ts`) reads `NGINX_BIN`, `ENVIRONMENT`, `DATABASE_URL` (the server it creates its own database on) and `REDIS_URL` of these',
      variables: describeShape(clusterShape),
    },
  ];
}
