import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, metricSample } from '@chat/shared/testing';
import { createUser, sendMessage, startApi, type TestApi, type TestUser } from './harness.ts';

let api: TestApi;
let user: TestUser;
beforeAll(async () => {
  // One hash at a time and one waiting: a burst of logins both queues and gets refused.
  api = await startApi({ PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1' });
  user = await createUser(api);
});
afterAll(async () => api.close());

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

const sample = metricSample;

describe('the API metrics endpoint', () => {
  it('serves every family on its own port, and they move', async () => {
    expect(new URL(api.metricsUrl).port).not.toBe(new URL(api.url).port);
    const queueDepth = vi.spyOn(api.metrics.passwordHashQueueDepth, 'set');
    const before = await scrape(api.metricsUrl);

    await sendMessage(api, user, { content: 'counted once', recipient: user.username });
    const repeated = {
      method: 'POST',
      token: user.token,
      json: { content: 'twice', recipient: user.username },
      headers: { 'idempotency-key': 'metrics-1' },
    };
    expect((await api.fetch('/api/messages', repeated)).status).toBe(201);
    expect((await api.fetch('/api/messages', repeated)).status).toBe(200);
    expect((await api.fetch(`/api/messages/between/${user.username}/${user.id}?limit=1`, { token: user.token })).status).toBe(200);
    const logins = await Promise.all(
      Array.from({ length: 6 }, () => api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } })),
    );
    expect(logins.map((r) => r.status)).toContain(503);

    const after = await scrape(api.metricsUrl);
    // Default process metrics, event-loop lag included.
    expect(sample(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after).toContain('nodejs_eventloop_lag_seconds');
    // Route patterns, never raw paths: no username or id appears anywhere.
    const betweenCount = sample(after, 'http_request_duration_seconds_count', {
      route: '/api/messages/between/:user1/:user2',
      method: 'GET',
      status: '200',
    });
    expect(betweenCount).toBe(1);
    expect(sample(after, 'http_request_duration_seconds_count', { route: '/api/messages', method: 'POST', status: '201' })).toBe(2);
    expect(after).not.toContain(user.username);
    expect(after).not.toContain(user.id);
    // Two new messages stored; the repeated key is not counted again.
    expect(
      (sample(after, 'chat_messages_stored_total', { transport: 'rest' }) ?? 0) -
        (sample(before, 'chat_messages_stored_total', { transport: 'rest' }) ?? 0),
    ).toBe(2);
    expect(sample(after, 'chat_password_hash_refusals_total')).toBeGreaterThan(0);
    expect(sample(after, 'chat_password_hash_queue_depth')).toBe(0);
    expect(queueDepth).toHaveBeenCalledWith(1);
    expect(after).toContain('# TYPE chat_dependency_errors_total counter');
  });

  it('counts what the router did with each message the API routed', async () => {
    const held = async () => sample(await scrape(api.metricsUrl), 'chat_route_outcomes_total', { outcome: 'held' }) ?? 0;
    const before = await held();
    await sendMessage(api, user, { content: 'routed', recipient: user.username });
    // Routed after the response (fire-and-forget); with no gateway to say where routing starts (INIT), it waits in `held`.
    await vi.waitFor(async () => expect(await held()).toBe(before + 1));
  });

  it('answers 404 for anything but GET /metrics', async () => {
    expect((await fetch(api.metricsUrl.replace('/metrics', '/'))).status).toBe(404);
  });

  it('counts PostgreSQL and Redis failures', async () => {
    const broken = await startApi({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/chat`,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      DB_CONNECT_TIMEOUT: '300ms',
      REDIS_COMMAND_TIMEOUT: '300ms',
    });
    try {
      expect((await broken.fetch('/health')).status).toBe(503);
      await vi.waitFor(async () => {
        const text = await scrape(broken.metricsUrl);
        expect(sample(text, 'chat_dependency_errors_total', { dependency: 'postgres' })).toBeGreaterThan(0);
        expect(sample(text, 'chat_dependency_errors_total', { dependency: 'redis' })).toBeGreaterThan(0);
      });
    } finally {
      await broken.close();
    }
  });
});

describe('nginx', () => {
  it('publishes no metrics port', () => {
    const conf = readFileSync(new URL('../../../nginx.conf', import.meta.url), 'utf8');
    for (const port of ['9100', '9101']) expect(conf).not.toContain(port);
    expect(conf).not.toMatch(/location[^{]*metrics/);
  });
});
