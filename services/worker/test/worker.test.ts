import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, sendMessage, startApi, testEnv, type TestApi } from '../../api/test/harness.ts';
import { startReceiver, startWorker, type Receiver } from './harness.ts';

// The worker as a service: its process (health, metrics, SIGTERM), and a
// graceful stop that finishes the attempt under way and hands its leases back.

let api: TestApi;
let receiver: Receiver;
beforeAll(async () => {
  api = await startApi({ WEBHOOK_ALLOWED_TARGETS: '127.0.0.0/8' });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await api.close();
});

describe('the worker process', () => {
  it('serves health and metrics on its own ports and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['services/worker/src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', ...testEnv({ REDIS_PREFIX: api.config.redis.prefix, WORKER_ID: 'worker-under-test' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Array<{ msg?: string; port?: number | string }> = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg?: string; port?: number });
    });
    const portOf = (msg: string) => lines.find((l) => l.msg === msg)?.port;
    await expect.poll(() => portOf('metrics listening'), { timeout: 15_000 }).toBeTypeOf('number');
    const url = `http://127.0.0.1:${portOf('worker listening')}`;

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy', database: 'connected', redis: 'connected', worker_id: 'worker-under-test' });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    expect(await (await fetch(`${url}/health/ready`)).json()).toMatchObject({ status: 'ready', draining: false });
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
    const metrics = await (await fetch(`http://127.0.0.1:${portOf('metrics listening')}/metrics`)).text();
    expect(metrics).toContain('chat_webhook_attempts_total');
    expect(metrics).toContain('service="worker"');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.map((l) => l.msg)).toContain('stopped');
  });
});

describe('a graceful stop', () => {
  it('finishes the attempt under way, acknowledges it and gives the lease back at once', async () => {
    const worker = await startWorker({ REDIS_PREFIX: api.config.redis.prefix, WEBHOOK_LEASE: '30s' });
    const slow = await startReceiver();
    try {
      const alice = await createUser(api);
      const res = await api.fetch('/api/webhooks', {
        method: 'POST',
        token: alice.token,
        json: { url: slow.url, events: ['message.created'], conversation: `user:${alice.id}` },
      });
      const hook = (await res.json()) as { id: string };
      const row = () => api.resources.db.selectFrom('webhooks').select(['cursor', 'lease_token']).where('id', '=', hook.id).executeTakeFirstOrThrow();
      const before = await row();
      // The receiver has the request but answers only when the test says so.
      let answer: () => void = () => {};
      const answered = new Promise<void>((resolve) => {
        answer = resolve;
      });
      slow.answer = async () => {
        await answered;
        return { status: 200 };
      };
      const message = await sendMessage(api, alice, { recipient: alice.username, content: 'in flight' });
      await expect.poll(() => slow.received.length, { timeout: 10_000 }).toBe(1);

      const stopped = worker.close();
      // Still delivering: the lease is held until the attempt is answered.
      expect((await row()).lease_token).not.toBeNull();
      answer();
      await stopped;
      const after = await row();
      expect(after.lease_token, 'the lease is handed back, so another worker continues at once').toBeNull();
      expect(Number(after.cursor)).toBeGreaterThan(Number(before.cursor));
      expect(slow.received.map((r) => r.headers['webhook-id'])).toEqual([message.id]);
      const attempts = (await (await api.fetch(`/api/webhooks/${hook.id}/deliveries`, { token: alice.token })).json()) as {
        deliveries: Array<{ outcome: string; event_id: string }>;
      };
      expect(attempts.deliveries).toMatchObject([{ outcome: 'delivered', event_id: message.id }]);
    } finally {
      await slow.close();
    }
  });
});
