import { pointerSegment, schemaDocument } from '@chat/shared/testing';

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> }>;
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, Record<string, string>> };
}

/** `/api/rooms/{roomId}` -> a pattern matching `/api/rooms/<anything but a slash>`. */
const templatePattern = (template: string) => new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);

/**
 * Checks real responses against the OpenAPI document: the operation must
 * exist, document the status, and the JSON body must match that status's
 * schema. Paths no route serves must answer with the document's Error shape.
 */
export function openApiContract(doc: OpenApiDocument) {
  const schemas = schemaDocument(doc);
  const templates = Object.keys(doc.paths).map((template) => ({ template, pattern: templatePattern(template) }));

  return {
    /** The problems of one response, empty when it conforms. */
    problems(method: string, path: string, status: number, body: unknown): string[] {
      const pathname = new URL(path, 'http://x').pathname;
      const match = templates.find((t) => t.pattern.test(pathname));
      const operation = match && doc.paths[match.template]?.[method.toLowerCase()];
      if (!match || !operation) {
        // No route serves it (Hono's 404, or OPTIONS preflights, which have no body to check).
        if (method.toUpperCase() === 'OPTIONS' || body === undefined) return [];
        return schemas.problems('/components/schemas/Error', body).map((p) => `unrouted ${method} ${pathname} ${status}: ${p}`);
      }
      const where = `${method.toUpperCase()} ${match.template} ${status}`;
      const response = operation.responses[String(status)];
      if (!response) return [`${where}: status not documented`];
      if (!response.content?.['application/json']) return [];
      if (body === undefined) return [`${where}: documented as JSON, got no JSON body`];
      const pointer = ['', 'paths', match.template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema']
        .map((s, i) => (i === 0 ? s : pointerSegment(s)))
        .join('/');
      return schemas.problems(pointer, body).map((p) => `${where}: ${p}`);
    },
  };
}
