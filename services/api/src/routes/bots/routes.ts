import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { createBotInput, type AccessTokens } from '@chat/shared/auth';
import { botListSchema, newBotSchema } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { rawBody } from '../../middleware/validate.ts';
import { ALWAYS, AUTHENTICATED, errors, json, UNSAFE } from '../../openapi/responses.ts';

const tags = ['bots'];

export function botRoutes(deps: { accessTokens: AccessTokens }) {
  const { accessTokens } = deps;
  return new Hono<AppEnv>()
    .post(
      '/',
      describeRoute({
        tags,
        summary: 'Create a bot',
        description:
          'A user you own that cannot sign in with a password, only with access tokens; the answer holds its first token (its secret this once). More with `POST /api/tokens` `{user_id}`. With a session only (403 for an access token); TOKEN_CREATE_LIMIT (429); a taken username is 409.',
        ...AUTHENTICATED,
        responses: { 201: json(newBotSchema, 'The bot and its first token'), ...errors(400, 401, ...UNSAFE, 409, 429, ...ALWAYS) },
      }),
      // The bot rules validate it.
      rawBody(createBotInput),
      async (c) => c.json(await accessTokens.createBot(c.get('claims'), c.req.valid('json')), 201),
    )
    .get(
      '/',
      describeRoute({
        tags,
        summary: 'Your bots',
        ...AUTHENTICATED,
        responses: { 200: json(botListSchema, 'Oldest first'), ...errors(401, 403, ...ALWAYS) },
      }),
      async (c) => c.json({ bots: await accessTokens.listBots(c.get('claims')) }),
    );
}
