import { configDefaults, defineConfig } from 'vitest/config';

// Three tiers; `npm test` runs them all, `vitest run --project <name>` one of them.
// - unit (`npm run test:unit`): files named `*.unit.test.ts`. Pure code: no server,
//   no PostgreSQL, no Redis, no nginx, no browser, no child process; the whole tier
//   runs in well under a minute. A test that needs any of those is not a unit test:
//   name it `*.test.ts`.
// - integration: every other `*.test.ts` outside e2e/: the real app factories on
//   random ports against the local PostgreSQL and Redis (two gateways in one
//   process), redis-server processes of their own.
// - e2e: e2e/, the whole cluster behind nginx and a browser.
const DATABASE = ['shared/src/testing/global-setup.ts'];
const UNIT = '**/*.unit.test.ts';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: [UNIT] } },
      {
        extends: true,
        test: {
          name: 'integration',
          // One database per run of this project, created and dropped by the global setup;
          // every test file shares it and isolates itself through unique usernames and a
          // Redis key prefix.
          globalSetup: DATABASE,
          include: ['**/*.test.ts'],
          exclude: [...configDefaults.exclude, UNIT, 'e2e/**'],
        },
      },
      // Each e2e file starts the whole cluster behind nginx, which must listen on
      // :8080, so they take turns: one file at a time. They get a database of their own.
      {
        extends: true,
        test: {
          name: 'e2e',
          globalSetup: DATABASE,
          include: ['e2e/**/*.test.ts'],
          exclude: [...configDefaults.exclude, UNIT],
          fileParallelism: false,
        },
      },
    ],
  },
});
