import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { createTokenInput, type AccessTokens } from '@chat/shared/auth';
import { accessTokenListSchema, newAccessTokenSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { params, rawBody } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';
import { tokenParams } from './schema.ts';

const tags = ['tokens'];
const SESSION_ONLY = 'With a session only (a login): an access token cannot manage tokens (403).';

export function tokenRoutes(deps: { accessTokens: AccessTokens }) {
  const { accessTokens } = deps;
  return new Hono<AppEnv>()
    .post(
      '/',
      describeRoute({
        tags,
        summary: 'Create an access token',
        description: `For yourself or one of your bots (\`user_id\`), with scopes \`messages:read\`, \`messages:write\`, \`rooms:write\`; it works as \`Authorization: Bearer\` on REST and both socket kinds, held to its scopes (403 beyond them). The secret is in the answer only: it is stored hashed. TOKEN_CREATE_LIMIT per user (429). ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 201: json(newAccessTokenSchema, 'The token, with its secret this once'), ...errors(400, 401, ...UNSAFE, 404, 429, ...ALWAYS) },
      }),
      // The token rules validate it.
      rawBody(createTokenInput),
      async (c) => c.json(await accessTokens.create(c.get('claims'), c.req.valid('json')), 201),
    )
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Your access tokens',
        description: `Yours and your bots', without secrets. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 200: json(accessTokenListSchema, 'Oldest first'), ...errors(401, 403, ...ALWAYS) },
      }),
      async (c) => c.json({ tokens: await accessTokens.list(c.get('claims')) }),
    )
    .delete(
      '/:id',
      describeRoute({
        tags,
        summary: 'Delete an access token',
        description: `It stops working at once on every replica and transport; sockets opened with it are closed. ${SESSION_ONLY}`,
        ...AUTHENTICATED,
        responses: { 204: { description: 'Deleted' }, ...errors(400, 401, ...UNSAFE, 404, ...ALWAYS) },
      }),
      params(tokenParams),
      async (c) => {
        await accessTokens.revoke(c.get('claims'), c.req.valid('param').id);
        return c.body(null, 204);
      },
    );
}
