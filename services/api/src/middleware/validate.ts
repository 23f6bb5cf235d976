import type { Context } from 'hono';
import type { z } from 'zod';
import { invalid } from '@chat/shared/errors';
import { parseInput } from '@chat/shared/validation';

/**
 * Reads the body as JSON whatever the Content-Type says: the seed's own curl
 * examples post JSON without one.
 */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw invalid('request body must be a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw invalid('request body is not valid JSON');
  }
}

export async function validBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  return parseInput(schema, await jsonBody(c), 'invalid request body');
}

export function validQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseInput(schema, c.req.query(), 'invalid query');
}

export function validParams<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseInput(schema, c.req.param(), 'invalid path');
}
