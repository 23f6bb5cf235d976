import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '@chat/shared/auth';
import { createRoom, createUser, startApi, type TestApi, type TestUser } from './harness.ts';

/**
 * Whatever a client sends to a write route, the answer is a 2xx/4xx JSON
 * response: never a 5xx, which would mean input reached somewhere unchecked.
 */

let api: TestApi;
let alice: TestUser;
let bob: TestUser;
let room: { id: string };
let mint: () => Promise<string>;
beforeAll(async () => {
  api = await startApi();
  [alice, bob] = await Promise.all([createUser(api), createUser(api)]);
  room = await createRoom(api, alice, 'fuzz');
  const tokens = createTokenService(api.config.jwt);
  mint = async () => (await tokens.issue({ id: alice.id, username: alice.username })).token;
});
afterAll(async () => api.close());

// Any UTF-16 code unit, lone surrogates and NUL included, plus whole code points.
const codeUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u0000', '\ud800', '\udfff', '\u202e', '\ufeff', ' ', '\n', '"', "'", '\\', '%', '/'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const anyText = fc.string({ unit: codeUnit, maxLength: 80 });
const anyJsonValue = fc.oneof(anyText, fc.jsonValue({ maxDepth: 2 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));

const toJson = (value: unknown) => {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return 'null';
  }
};

/** Arbitrary text, arbitrary JSON, and arbitrary JS values serialised. */
const randomBody = fc.oneof(fc.json(), anyText, fc.jsonValue().map(toJson), fc.anything({ maxDepth: 2 }).map(toJson));

/** Objects with the route's real field names holding random, near-valid or real values. */
function shapedBody(fields: Record<string, fc.Arbitrary<unknown>>) {
  const withNoise = Object.fromEntries(Object.entries(fields).map(([k, arb]) => [k, fc.oneof(arb, anyJsonValue)]));
  return fc.record(withNoise, { requiredKeys: [] }).map(toJson);
}

const body = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof({ weight: 1, arbitrary: randomBody }, { weight: 3, arbitrary: shapedBody(fields) });
const contentType = fc.constantFrom<string | undefined>('application/json', 'text/plain', undefined);
const username = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{2,40}$/);
const userRef = () => fc.oneof(username, fc.uuid(), fc.constantFrom(alice.username, bob.username, bob.id, bob.username.toUpperCase()));

/** Percent-encodes every UTF-8 byte, or passes malformed escapes through as they are. */
const pathSegment = (real: () => string[]) =>
  fc.oneof(
    fc.constant(null).map(() => fc.sample(fc.constantFrom(...real()), 1)[0]!),
    fc.uuid(),
    anyText.filter((s) => s.length > 0).map((s) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    fc.constantFrom('%zz', '%00', '%C0%AF', '%ED%A0%80', '%', '..%2F..', 'null', 'undefined', '0', '-1'),
  );

async function expectNo5xx(res: Response, what: string) {
  const text = await res.text();
  expect(res.status, `${what} -> ${res.status} ${text}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
    expect(typeof (JSON.parse(text) as { error?: unknown }).error, what).toBe('string');
  }
}

async function postRaw(path: string, raw: string, type: string | undefined, headers: Record<string, string> = {}) {
  const res = await api.fetch(path, { method: 'POST', body: raw, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });
  await expectNo5xx(res, `POST ${path} ${raw}`);
}

/** Credentials a client might present: none, garbage, or a valid fresh token. */
const credentials = fc.oneof(
  fc.constant('valid' as const),
  fc.constant({}),
  fc.stringMatching(/^[A-Za-z0-9._~+/=-]{0,200}$/).map((s) => ({ authorization: `Bearer ${s}` })),
  fc.stringMatching(/^[A-Za-z0-9._~+/=-]{0,200}$/).map((s) => ({ cookie: `jwt_token=${s}` })),
  fc.stringMatching(/^[\x20-\x7e]{0,100}$/).map((s) => ({ authorization: s })),
);

describe('random input on write routes never yields a 5xx', () => {
  it('POST /api/auth/register', async () => {
    const fields = {
      username,
      email: fc.emailAddress(),
      password: fc.oneof(fc.string({ minLength: 8, maxLength: 128 }), fc.string({ maxLength: 140 })),
    };
    await fc.assert(
      fc.asyncProperty(body(fields), contentType, (raw, type) => postRaw('/api/auth/register', raw, type)),
      { numRuns: 40 },
    );
  });

  it('POST /api/auth/login', async () => {
    const fields = { username: fc.oneof(username, fc.constant(alice.username)), password: fc.oneof(fc.string(), fc.constant(alice.password)) };
    await fc.assert(
      fc.asyncProperty(body(fields), contentType, (raw, type) => postRaw('/api/auth/login', raw, type)),
      { numRuns: 40 },
    );
  });

  it('POST /api/messages', async () => {
    const fields = {
      content: fc.oneof(anyText, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 100 })),
      recipient: userRef(),
      room_id: fc.oneof(fc.uuid(), fc.constant(room.id)),
      sender: fc.oneof(userRef(), anyText),
    };
    await fc.assert(
      fc.asyncProperty(body(fields), contentType, (raw, type) => postRaw('/api/messages', raw, type, { authorization: `Bearer ${alice.token}` })),
      { numRuns: 100 },
    );
  });

  it('POST /api/rooms', async () => {
    const fields = { name: anyText, description: anyText };
    await fc.assert(
      fc.asyncProperty(body(fields), contentType, (raw, type) => postRaw('/api/rooms', raw, type, { authorization: `Bearer ${alice.token}` })),
      { numRuns: 100 },
    );
  });

  it('POST /api/rooms/:roomId/members/:userId, fuzzing the path too', async () => {
    const roomIds = pathSegment(() => [room.id, room.id.toUpperCase()]);
    const userIds = pathSegment(() => [bob.id, alice.id, bob.username]);
    await fc.assert(
      fc.asyncProperty(roomIds, userIds, randomBody, contentType, async (roomId, userId, raw, type) => {
        for (const method of ['POST', 'DELETE']) {
          const path = `/api/rooms/${roomId}/members/${userId}`;
          const res = await api.fetch(path, { method, token: alice.token, body: raw, headers: type ? { 'content-type': type } : {} });
          await expectNo5xx(res, `${method} ${path}`);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('POST /api/auth/refresh', async () => {
    await fc.assert(
      fc.asyncProperty(credentials, randomBody, contentType, async (cred, raw, type) => {
        const headers = cred === 'valid' ? { authorization: `Bearer ${alice.token}` } : cred;
        await postRaw('/api/auth/refresh', raw, type, headers);
      }),
      { numRuns: 60 },
    );
  });

  it('POST /api/auth/logout', async () => {
    await fc.assert(
      fc.asyncProperty(credentials, randomBody, contentType, async (cred, raw, type) => {
        // Logging out revokes the token, so each valid attempt gets a fresh one.
        const headers = cred === 'valid' ? { authorization: `Bearer ${await mint()}` } : cred;
        await postRaw('/api/auth/logout', raw, type, headers);
      }),
      { numRuns: 60 },
    );
  });
});

describe('random queries on listings never yield a 5xx', () => {
  it('GET /api/messages, /api/users, /api/rooms/:id/messages and /api/messages/between', async () => {
    const value = fc.oneof(anyText, fc.integer().map(String), fc.uuid(), fc.constantFrom('', '1e2', '0x10', ' 5', 'Infinity', 'NaN', '-0'));
    const query = fc.dictionary(fc.constantFrom('limit', 'before', 'after', 'token', 'x'), value, { maxKeys: 3 });
    const paths = fc.oneof(
      fc.constant('/api/messages'),
      fc.constant('/api/users'),
      fc.constant(`/api/rooms/${room.id}/messages`),
      pathSegment(() => [alice.username, bob.id]).map((other) => `/api/messages/between/${alice.username}/${other}`),
    );
    await fc.assert(
      fc.asyncProperty(paths, query, async (path, params) => {
        const search = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, v.toWellFormed()]));
        const res = await api.fetch(`${path}?${search.toString()}`, { token: alice.token });
        await expectNo5xx(res, `GET ${path}?${search.toString()}`);
      }),
      { numRuns: 80 },
    );
  });
});
