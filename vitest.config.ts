import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'services/*/test/**/*.test.ts', 'e2e/**/*.test.ts', 'deploy/**/*.test.ts'],
    // One database per run, created and dropped here; every test file shares it
    // and isolates itself through unique usernames and a Redis key prefix.
    globalSetup: ['shared/src/testing/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
