import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, startApi, uniqueName, type TestApi, type TestUser } from './harness.ts';

// One argon2 at a time and one waiting: anything beyond is turned away at once.
let api: TestApi;
let user: TestUser;
beforeAll(async () => {
  api = await startApi({ PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1' });
  user = await createUser(api);
});
afterAll(async () => api.close());

describe('a login flood beyond PASSWORD_HASH_CONCURRENCY + PASSWORD_HASH_QUEUE', () => {
  it('turns the excess away with 503 and Retry-After, serves the rest, and never answers 500', async () => {
    const attempts = Array.from({ length: 12 }, (_, i) =>
      api.fetch('/api/auth/login', {
        method: 'POST',
        // Right and wrong passwords and unknown users all cost one hash.
        json:
          i % 3 === 0
            ? { username: user.username, password: user.password }
            : { username: i % 3 === 1 ? user.username : uniqueName(), password: 'wrong password' },
      }),
    );
    const responses = await Promise.all(attempts);
    const statuses = responses.map((r) => r.status);
    expect(
      statuses.every((s) => [200, 401, 503].includes(s)),
      statuses.join(','),
    ).toBe(true);

    const busy = responses.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.length).toBeLessThanOrEqual(10);
    for (const res of busy) {
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({ error: 'server busy, try again shortly', code: 'busy' });
    }
    // The ones that got a slot were answered on their merits.
    expect(statuses.filter((s) => s !== 503).length).toBeGreaterThanOrEqual(2);

    // Once the flood has passed, logging in works again.
    const after = await api.fetch('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } });
    expect(after.status).toBe(200);
  });

  it('refuses registrations in the same flood the same way', async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => {
        const username = uniqueName('flood');
        return api.fetch('/api/auth/register', { method: 'POST', json: { username, email: `${username}@example.test`, password: 'password123' } });
      }),
    );
    const statuses = responses.map((r) => r.status);
    expect(
      statuses.every((s) => s === 201 || s === 503),
      statuses.join(','),
    ).toBe(true);
    expect(statuses).toContain(503);
    expect(statuses).toContain(201);
  });
});
