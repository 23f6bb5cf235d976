import { Hono } from 'hono';
import { type MessageService, pageQuery } from '@chat/shared/chat';
import type { Metrics } from '@chat/shared/metrics';
import { presentMessagePage } from '@chat/shared/presenters';
import type { AppEnv } from '../../env.ts';
import { jsonBody, validParams, validQuery } from '../../middleware/validate.ts';
import { betweenParams } from './schema.ts';

export function messageRoutes(deps: { messages: MessageService; metrics: Metrics }) {
  const { messages } = deps;
  return new Hono<AppEnv>()
    .post('/', async (c) => {
      const idempotencyKey = c.req.header('idempotency-key');
      const { message, duplicate } = await messages.send(c.get('claims'), await jsonBody(c), { idempotencyKey });
      if (!duplicate) deps.metrics.messagesStored.inc({ transport: 'rest' });
      // A retry with the same key gets the original, as the first answer would have been had it arrived.
      return c.json(message, duplicate ? 200 : 201);
    })
    .get('/', async (c) => {
      const page = await messages.listVisible(c.get('claims'), validQuery(c, pageQuery));
      return c.json(presentMessagePage(page));
    })
    .get('/between/:user1/:user2', async (c) => {
      const { user1, user2 } = validParams(c, betweenParams);
      const page = await messages.listBetween(c.get('claims'), user1, user2, validQuery(c, pageQuery));
      return c.json(presentMessagePage(page));
    });
}
