import js from '@eslint/js';
import vitest from '@vitest/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Layer boundaries (see docs/architecture.md, "Layers"). Each file gets exactly
// one of these rule sets: a later no-restricted-imports would replace, not extend, an earlier one.
const publicEntryPoints = {
  group: ['@chat/shared/*/**', '**/shared/src/**'],
  message: 'Import the shared package through its public entry points (the "exports" of shared/package.json).',
};
const queryLayer = {
  group: ['**/db/queries/**'],
  message:
    'Only the chat, auth and integrations rules use the query layer; call a rule from shared/src/chat, shared/src/auth or shared/src/integrations.',
};
const chatRules = {
  group: ['**/chat/**', '**/chat/*.ts'],
  message: 'Lower layers must not depend on the chat rules; shared types live in shared/src/model.',
};
/** What serves HTTP or sockets, and what shapes responses: the services' business, never a rule's. */
const serving = [
  'hono',
  'hono/**',
  '@hono/**',
  'socket.io',
  'socket.io/**',
  'socket.io-client',
  '@socket.io/**',
  'ws',
  '**/services/**',
  '**/presenters/**',
];
const transports = {
  group: [...serving, 'node:http', 'node:https', 'node:net'],
  message: 'Rules know nothing about HTTP or sockets, nor how responses are shaped: transports map their results.',
};
/** The integrations rules open outbound connections (webhooks, push) themselves, but serve nothing. */
const servers = {
  group: serving,
  message: 'Rules serve nothing and shape no responses: transports map their results.',
};
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

/** What k6 puts in a script's global scope (see @types/k6's global.d.ts); the rest is imported from k6/*. */
const k6Globals = { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly', console: 'readonly' };

export default tseslint.config(
  { ignores: ['**/node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // A switch over a union names every member, so adding one to the union (an event,
      // an error code, a frame type) points at each switch that must handle it; a
      // `default` does not count as handling them. A switch over a plain string or
      // number needs a `default`.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: true }],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  { files: ['services/**', 'e2e/**', 'loadtest/**', 'scripts/**', 'deploy/**'], rules: restrict(publicEntryPoints) },
  { files: ['shared/src/**'], rules: restrict(queryLayer) },
  { files: ['shared/src/chat/**', 'shared/src/auth/**'], rules: restrict(transports) },
  { files: ['shared/src/integrations/**'], rules: restrict(servers) },
  { files: ['shared/src/db/**', 'shared/src/events/**'], rules: restrict(queryLayer, chatRules) },
  { files: ['shared/src/model/**'], rules: restrict({ group: ['../**'], message: 'The model is the bottom layer: it imports nothing of ours.' }) },
  // The web client: ES modules loaded by index.html, no build step.
  { files: ['web/**/*.js'], languageOptions: { sourceType: 'module', globals: globals.browser } },
  // Its service worker: a classic script in a service worker's global scope.
  { files: ['web/sw.js'], languageOptions: { sourceType: 'script', globals: globals.serviceworker } },
  // k6 scripts: ES modules run by k6's own runtime, not Node.
  { files: ['loadtest/**/*.js'], languageOptions: { sourceType: 'module', globals: k6Globals } },
  // Every test says what it expects: an expect (expect.poll, expect(...).rejects, ...),
  // a helper that asserts, named expect* (expectRefused, expectNothingBut, ...), or a
  // fast-check property (fc.assert).
  {
    files: ['**/*.test.ts'],
    plugins: { vitest },
    rules: { 'vitest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'fc.assert'] }] },
  },
);
