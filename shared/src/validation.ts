import type { z } from 'zod';
import { invalid, type ErrorDetail } from './errors.ts';

/** Parses `input` with `schema`, turning zod issues into a validation DomainError. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, message = 'invalid request'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details: ErrorDetail[] = result.error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : '(body)',
    message: issue.message,
  }));
  throw invalid(message, details);
}
