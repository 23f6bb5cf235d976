import argon2 from 'argon2';
import { createLimiter, type LimiterObserver } from './limiter.ts';

// OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Verifies against `hash`, or against a throwaway hash when there is no user,
   * so an unknown username costs the same time as a wrong password. A stored hash
   * argon2 cannot read (a corrupt row) rejects: that is a server fault, not a
   * wrong password.
   */
  verify(hash: string | undefined, password: string): Promise<boolean>;
}

export function createPasswordHasher(opts: { concurrency: number; maxQueue: number; observer?: LimiterObserver }): PasswordHasher {
  const limit = createLimiter(opts.concurrency, opts.maxQueue, opts.observer);
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= argon2.hash('not-a-real-password', OPTIONS));

  return {
    hash: (password) => limit(() => argon2.hash(password, OPTIONS)),
    verify: async (hash, password) => {
      const target = hash ?? (await dummyHash());
      const ok = await limit(() =>
        argon2.verify(target, password).catch((error: unknown) => {
          // Not a DomainError, so the API answers a generic 500 and logs this.
          throw new Error('stored password hash could not be verified', { cause: error });
        }),
      );
      return ok && hash !== undefined;
    },
  };
}
