import type { Context, MiddlewareHandler } from 'hono';
import { resolver, uniqueSymbol, validator } from 'hono-openapi';
import type { z } from 'zod';
import { invalid } from '@chat/shared/errors';
import { parseInput } from '@chat/shared/validation';
import type { AppEnv } from '../env.ts';

/*
 * Request validation that is also the API description: each middleware
 * validates with a zod schema and registers that same schema with the OpenAPI
 * generator (hono-openapi), so the document cannot drift from what the routes
 * accept. Failures become the usual `validation_failed` error, with our own
 * messages, through app.onError.
 */

type Target = 'query' | 'param';
const LABEL: Record<Target, string> = { query: 'invalid query', param: 'invalid path' };

function validated<S extends z.ZodType, T extends Target>(target: T, schema: S) {
  // On failure the raw input is parsed once more by the shared rule, which throws the domain error.
  return validator(target, schema, (result) => {
    if (!result.success) parseInput(schema, result.data, LABEL[target]);
  });
}

/** `?…` parameters, read with `c.req.valid('query')`. */
export const query = <S extends z.ZodType>(schema: S) => validated('query', schema);

/** Path parameters, read with `c.req.valid('param')`. */
export const params = <S extends z.ZodType>(schema: S) => validated('param', schema);

/**
 * Reads the body as JSON whatever the Content-Type says: the seed's own curl
 * examples post JSON without one, which Hono's json validator would ignore.
 */
async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw invalid('request body must be a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw invalid('request body is not valid JSON');
  }
}

/** A JSON body, read with `c.req.valid('json')`. */
export function body<S extends z.ZodType>(schema: S) {
  const middleware: MiddlewareHandler<AppEnv, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> = async (c, next) => {
    c.req.addValidatedData('json', parseInput(schema, await readJson(c), 'invalid request body') as object);
    await next();
  };
  // The marker hono-openapi's own validator carries, so the generator documents this body too.
  return Object.assign(middleware, { [uniqueSymbol]: { target: 'json' as const, ...resolver(schema) } });
}

/**
 * A JSON body passed on unvalidated, read with `c.req.valid('json')`, for
 * routes whose shared rule validates it itself (the one write path, which
 * sockets use too); `schema` is that rule's, so the document still shows it.
 */
export function rawBody(schema: z.ZodType) {
  const middleware: MiddlewareHandler<AppEnv, string, { in: { json: unknown }; out: { json: unknown } }> = async (c, next) => {
    c.req.addValidatedData('json', (await readJson(c)) as object);
    await next();
  };
  return Object.assign(middleware, { [uniqueSymbol]: { target: 'json' as const, ...resolver(schema) } });
}
