import type { DescribeRouteOptions } from 'hono-openapi';
import { resolver } from 'hono-openapi';
import { z } from 'zod';
import type { ErrorCode } from '@chat/shared/errors';
import { errorBodySchema, HTTP_STATUS, type ErrorStatus } from '@chat/shared/presenters';

type Responses = NonNullable<DescribeRouteOptions['responses']>;

/** A JSON response whose body is `schema`. */
export const json = (schema: z.ZodType, description: string): Responses[string] => ({
  description,
  content: { 'application/json': { schema: resolver(schema) } },
});

const codesFor = (status: ErrorStatus) =>
  (Object.entries(HTTP_STATUS) as Array<[ErrorCode, ErrorStatus]>).filter(([, s]) => s === status).map(([code]) => `\`${code}\``);

/** The error answers an operation can give, each the one error body, described by the codes that map to it. */
export function errors(...statuses: ErrorStatus[]): Responses {
  return Object.fromEntries(statuses.map((status) => [status, json(errorBodySchema, `Error: code ${codesFor(status).join(', ')}`)]));
}

/** What any request may meet: an internal error, or PostgreSQL/Redis unavailable (Retry-After: 1). */
export const ALWAYS = [500, 503] as const;

/** Routes behind requireAuth: the JWT as a bearer token or in the `jwt_token` cookie. */
export const AUTHENTICATED: Pick<DescribeRouteOptions, 'security'> = {
  security: [{ bearerAuth: [] }, { cookieAuth: [] }],
};

/**
 * State-changing requests with the session cookie must come from an allowed
 * origin (CSRF, docs/security.md), and their body is capped (413).
 */
export const UNSAFE = [403, 413] as const;

type Parameter = Extract<NonNullable<DescribeRouteOptions['parameters']>[number], { in: string }>;

/** A parameter the route reads itself (not through a validator), documented from the schema that checks it. */
export function parameter(where: 'header', name: string, schema: z.ZodType, description: string): Parameter {
  // The document declares its dialect once; a parameter's schema carries none.
  const jsonSchema: Record<string, unknown> = { ...z.toJSONSchema(schema, { io: 'input' }) };
  delete jsonSchema.$schema;
  return { in: where, name, description, schema: jsonSchema };
}
