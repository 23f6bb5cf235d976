import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.ts';
import { createPasswordHasher } from './passwords.ts';

describe('createPasswordHasher', () => {
  const hasher = createPasswordHasher({ concurrency: 2, maxQueue: 10 });

  it('verifies the right password, refuses a wrong one and an unknown user alike', async () => {
    const hash = await hasher.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await hasher.verify(hash, 'correct horse battery')).toBe(true);
    expect(await hasher.verify(hash, 'wrong password')).toBe(false);
    // No user: checked against a throwaway hash, and never true, even for its password.
    expect(await hasher.verify(undefined, 'correct horse battery')).toBe(false);
    expect(await hasher.verify(undefined, 'not-a-real-password')).toBe(false);
  });

  it.each([
    ['not a hash at all', 'not-a-hash'],
    ['an empty string', ''],
    ['an argon2 header with a broken body', '$argon2id$v=19$m=19456,t=2,p=1$garbage'],
  ])('rejects, instead of answering "wrong password", when the stored hash is %s', async (_name, corrupt) => {
    const error: unknown = await hasher.verify(corrupt, 'whatever').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    // An internal error (the API answers 500), not a domain outcome such as `unauthenticated`.
    expect(error).not.toBeInstanceOf(DomainError);
    expect((error as Error).message).toBe('stored password hash could not be verified');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('frees its slot after a failed verification and still refuses past the queue', async () => {
    const single = createPasswordHasher({ concurrency: 1, maxQueue: 0 });
    const hash = await single.hash('pw-for-the-limiter');
    await expect(single.verify('not-a-hash', 'x')).rejects.toThrow('stored password hash could not be verified');
    // The failed task released its slot: the next one runs.
    expect(await single.verify(hash, 'pw-for-the-limiter')).toBe(true);

    const running = single.verify(hash, 'pw-for-the-limiter');
    await expect(single.verify(hash, 'pw-for-the-limiter')).rejects.toMatchObject({ code: 'busy' });
    expect(await running).toBe(true);
  });
});
