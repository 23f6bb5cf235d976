import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_COOKIE } from '@chat/shared/auth';
import { ERROR_CODES } from '@chat/shared/errors';
import { WEBHOOK_EVENTS } from '@chat/shared/integrations';
import { pointerSegment, schemaDocument, messageFixture } from '@chat/shared/testing';
import { openApiContract } from './contract.ts';
import { startApi, type TestApi } from './harness.ts';

// The route tests check every response they get against this document (the
// harness's fetch); these tests check the document itself.

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.close());

const operations = () =>
  Object.entries(api.openapi.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): { path: string; method: string; op: { security?: unknown[]; responses: Record<string, unknown> } } => ({
      path,
      method,
      op,
    })),
  );

/** A concrete URL for a path template: every `{param}` a fresh id, so nothing is found. */
const concrete = (template: string) => template.replace(/\{[^}]+\}/g, () => randomUUID());

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const res = await api.fetch('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as { openapi: string };
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes both ways to authenticate: a bearer token (a JWT, or an access token) and the jwt_token cookie', () => {
    const { bearerAuth, cookieAuth, ...others } = api.openapi.components.securitySchemes;
    expect(bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(bearerAuth?.description).toMatch(/chat_pat_/);
    expect(cookieAuth).toMatchObject({ type: 'apiKey', in: 'cookie', name: AUTH_COOKIE });
    expect(others).toEqual({});
  });

  it('describes every webhook event: its signed POST and its body', () => {
    const webhooks = (api.openapi as unknown as { webhooks: Record<string, { post: { parameters: Array<{ name: string }>; requestBody: unknown } }> })
      .webhooks;
    expect(Object.keys(webhooks).sort()).toEqual([...WEBHOOK_EVENTS].sort());
    for (const [event, item] of Object.entries(webhooks)) {
      expect(
        item.post.parameters.map((p) => p.name),
        event,
      ).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      expect(item.post.requestBody, event).toEqual({
        required: true,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookEvent' } } },
      });
    }
    const problems = schemaDocument(api.openapi).problems('/components/schemas/WebhookEvent', {
      id: randomUUID(),
      type: 'reaction.added',
      seq: 7,
      webhook_id: randomUUID(),
      conversation: 'global',
      data: { message: messageFixture({ id: randomUUID(), content: 'hi' }), reaction: { emoji: '👍', user: 'alice' } },
    });
    expect(problems).toEqual([]);
  });

  it('documents exactly the routes the app registers', () => {
    const documented = operations()
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    const registered = api.routes.map(({ method, path }) => `${method} ${path}`).sort();
    expect(registered.length).toBeGreaterThanOrEqual(19);
    expect(documented).toEqual(registered);
  });

  it('gives every operation a success response and, for errors, only the one error shape with a known code', () => {
    const errorCodes = (api.openapi.components.schemas.Error as { properties: { code: { enum: string[] } } }).properties.code.enum;
    expect(errorCodes).toEqual([...ERROR_CODES]);
    for (const { path, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => s.startsWith('2')),
        `${method} ${path}`,
      ).toBe(true);
      for (const status of statuses.filter((s) => Number(s) >= 400 && !path.startsWith('/health'))) {
        const schema = (op.responses[status] as { content: Record<string, { schema: unknown }> }).content['application/json']?.schema;
        expect(schema, `${method} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
      }
    }
  });

  it('compiles every schema in it, request and response, with every $ref resolving', () => {
    const doc = schemaDocument(api.openapi);
    let compiled = 0;
    for (const name of Object.keys(api.openapi.components.schemas)) {
      doc.compile(`/components/schemas/${pointerSegment(name)}`);
      compiled++;
    }
    for (const { path, method, op } of operations()) {
      const base = `/paths/${pointerSegment(path)}/${method}`;
      const full = op as { requestBody?: { content: object }; parameters?: unknown[] };
      // Every media type's schema: JSON bodies, and the uploads' multipart and binary ones.
      for (const type of Object.keys(full.requestBody?.content ?? {})) doc.compile(`${base}/requestBody/content/${pointerSegment(type)}/schema`);
      for (const i of full.parameters?.keys() ?? []) doc.compile(`${base}/parameters/${i}/schema`);
      for (const status of Object.keys(op.responses)) {
        for (const type of Object.keys((op.responses[status] as { content?: object }).content ?? {})) {
          doc.compile(`${base}/responses/${status}/content/${pointerSegment(type)}/schema`);
        }
      }
      compiled++;
    }
    expect(compiled).toBeGreaterThan(30);
  });

  it('marks exactly the operations that answer 401 without credentials as secured', async () => {
    for (const { path, method, op } of operations()) {
      const res = await api.fetch(concrete(path), { method: method.toUpperCase(), ...(method === 'get' ? {} : { json: {} }) });
      const secured = (op.security?.length ?? 0) > 0;
      expect(res.status === 401, `${method.toUpperCase()} ${path} answered ${res.status}`).toBe(secured);
    }
  });
});

describe('the contract check the harness applies', () => {
  it('refuses undocumented statuses, bodies that do not match, and non-error bodies on unrouted paths', () => {
    const contract = openApiContract(api.openapi);
    const message = messageFixture({ id: randomUUID(), content: 'hi' });
    expect(contract.problems('POST', '/api/messages', 201, message)).toEqual([]);
    expect(contract.problems('POST', '/api/messages', 202, message)).toEqual(['POST /api/messages 202: status not documented']);
    expect(contract.problems('POST', '/api/messages', 201, { ...message, created_at: 'yesterday' }).join()).toMatch(
      /created_at must match format "date-time"/,
    );
    expect(contract.problems('POST', '/api/messages', 201, { ...message, content: undefined }).join()).toMatch(
      /must have required property 'content'/,
    );
    expect(contract.problems('GET', '/api/rooms/x/messages', 404, { error: 'not found', code: 'not_found' })).toEqual([]);
    expect(contract.problems('GET', '/api/rooms/x/messages', 404, { error: 'not found', code: 'lost' }).join()).toMatch(
      /code must be equal to one of the allowed values/,
    );
    expect(contract.problems('GET', '/nowhere', 404, { message: 'no' }).join()).toMatch(/^unrouted GET \/nowhere 404/);
  });
});
