import { jwtVerify } from 'jose';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenService } from './tokens.ts';

// jose itself, counted: how often the signature was really checked.
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return { ...jose, jwtVerify: vi.fn((...args: Parameters<typeof jose.jwtVerify>) => jose.jwtVerify(...args)) };
});
const signatureChecks = () => vi.mocked(jwtVerify).mock.calls.length;
beforeEach(() => {
  vi.mocked(jwtVerify).mockClear();
});

const secret = 'tokens-test-secret-that-is-long-enough-for-hs256';
const alice = { id: '00000000-0000-4000-8000-00000000000a', username: 'alice' };

/** A clock the test moves by hand, in milliseconds. */
function clock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('token verification', () => {
  it('accepts its own token again and again with the same claims, checking the signature once', async () => {
    const tokens = createTokenService({ secret, expiryHours: 1 });
    const { token, claims } = await tokens.issue(alice);
    for (let i = 0; i < 3; i++) expect(await tokens.verify(token)).toEqual(claims);
    expect(signatureChecks()).toBe(1);
  });

  it('refuses a remembered token once it expired, exactly at exp as jose does', async () => {
    const time = clock();
    const tokens = createTokenService({ secret, expiryHours: 1, now: time.now });
    const { token } = await tokens.issue(alice);
    await tokens.verify(token);
    time.advance(3_600_000 - 1_000);
    await expect(tokens.verify(token)).resolves.toMatchObject({ id: alice.id });
    time.advance(1_000);
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'unauthenticated', message: 'token expired' });
    // Forgotten, the same token goes through jose, which says the same.
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'unauthenticated', message: 'token expired' });
  });

  it('refuses a token differing from a verified one in any part', async () => {
    const tokens = createTokenService({ secret, expiryHours: 1 });
    const { token } = await tokens.issue(alice);
    await tokens.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    // The first character: every bit of it is data. (The last one of a base64url
    // segment may carry unused bits, so changing it can leave the bytes the same.)
    const flip = (s: string) => (s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`);
    for (const forged of [`${header}.${payload}.${flip(signature)}`, `${header}.${flip(payload)}.${signature}`, `${token}.`]) {
      await expect(tokens.verify(forged)).rejects.toMatchObject({ code: 'unauthenticated' });
    }
    const other = createTokenService({ secret: `${secret}-other`, expiryHours: 1 });
    await expect(other.verify(token)).rejects.toMatchObject({ code: 'unauthenticated', message: 'invalid token' });
  });

  it("hands out copies: a caller changing its claims changes nobody else's", async () => {
    const tokens = createTokenService({ secret, expiryHours: 1 });
    const { token } = await tokens.issue(alice);
    const first = await tokens.verify(token);
    first.username = 'mallory';
    expect((await tokens.verify(token)).username).toBe('alice');
  });

  it('stays within its size, forgetting the least recently used token', async () => {
    const tokens = createTokenService({ secret, expiryHours: 1, cacheSize: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => tokens.issue({ ...alice, username: n })));
    for (const t of [a, b, a, c]) await tokens.verify(t!.token); // c pushes out b, the least recently used
    expect(signatureChecks()).toBe(3);
    await tokens.verify(a!.token);
    await tokens.verify(c!.token);
    expect(signatureChecks()).toBe(3);
    await tokens.verify(b!.token);
    expect(signatureChecks()).toBe(4);
  });

  it('remembers nothing with a size of 0', async () => {
    const tokens = createTokenService({ secret, expiryHours: 1, cacheSize: 0 });
    const { token } = await tokens.issue(alice);
    await tokens.verify(token);
    await tokens.verify(token);
    expect(signatureChecks()).toBe(2);
  });
});
