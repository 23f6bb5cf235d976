import { z } from 'zod';
import { proxyEntryProblem } from '../limits/client-address.ts';

/** Thrown when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Record<string, string | undefined>;

/**
 * For a process's entry point: returns the configuration, or prints the
 * ConfigError's list of bad variables (no stack trace) and exits.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
export type Shape = Record<string, z.ZodType>;
type Parsed<S extends Shape> = { [K in keyof S]: z.output<S[K]> };

/**
 * Parses each variable on its own so that one bad value does not hide another.
 * An empty string counts as unset, as compose files and shells often produce them.
 */
export function readEnv<S extends Shape>(env: Env, shape: S, problems: string[]): Parsed<S> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const raw = env[name] === '' ? undefined : env[name];
    const result = schema.safeParse(raw);
    if (result.success) out[name] = result.data;
    else problems.push(`${name}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  return out as Parsed<S>;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations as the seed writes them ("54s", "1m30s", "500ms"); a bare number is seconds. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(value) * (UNITS_MS[unit as string] ?? 0);
  }
  return total;
}

/**
 * What docs/configuration.md (npm run docs:config) says about a variable, attached to
 * its schema with `.meta()`: `description` always; `values` and `defaultText` only
 * where the schema cannot say it itself (a transform, a computed default).
 */
export interface VariableMeta {
  description?: string;
  /** The accepted values, in words. */
  values?: string;
  /** The default, in words. */
  defaultText?: string;
}

export const duration = (fallback: string, opts: { allowZero?: boolean } = {}) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms < 0 || (ms === 0 && !opts.allowZero)) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration such as 54s, 500ms or 1m` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ values: opts.allowZero ? 'duration, `0` allowed' : 'duration' } satisfies VariableMeta);

export const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

export const port = (fallback: number) => int(fallback, 0, 65_535);

/**
 * TRUSTED_PROXIES: comma-separated IP addresses and CIDR ranges whose
 * X-Forwarded-For / X-Real-IP headers are believed (see shared/src/limits/client-address.ts).
 */
export const addressList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const entries = text
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      for (const entry of entries) {
        const problem = proxyEntryProblem(entry);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
      return entries;
    })
    .meta({ values: 'comma-separated IP addresses and CIDR ranges' } satisfies VariableMeta);
