import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One database per run, created and dropped here; every test file shares it
    // and isolates itself through unique usernames and a Redis key prefix.
    globalSetup: ['shared/src/testing/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'shared/src/**/*.test.ts',
            'services/*/src/**/*.test.ts',
            'services/*/test/**/*.test.ts',
            'deploy/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
        },
      },
      // Each e2e file starts the whole cluster behind nginx, which must listen on
      // :8080, so they take turns: one file at a time, after the files above.
      { extends: true, test: { name: 'e2e', include: ['e2e/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
