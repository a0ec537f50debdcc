// @ts-check
// `npm run lint` runs this after `prettier --check .`; formatting is prettier's alone.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/',
      'packages/*/dist/',
      'test/bench/results/',
      'test-results/',
      'playwright-report/',
      'blob-report/',
      '.tmp/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    // Type-aware: the promise rules need the types. The three projects are the ones
    // `npm run typecheck` checks (the appliance and fixtures, every test, the replay package).
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './tsconfig.test.json', './packages/replay/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    // The few plain scripts (start, setup, this file) are in no tsconfig: a default project
    // types them, so the promise rules hold there too.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', 'scripts/*.mjs', 'fixtures/*.mjs', 'test/e2e/scratch-main-app/*.mjs'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    rules: {
      // A long-lived appliance must not lose a rejection: unhandled, Node exits on it (or, with
      // a handler, the failure is logged far from its cause). Fire-and-forget is written
      // `void …`, and only where the rejection is handled or cannot happen.
      '@typescript-eslint/no-floating-promises': 'error',
      // An async callback handed to an emitter, a server or a timer has nobody awaiting it.
      '@typescript-eslint/no-misused-promises': 'error',
      // Every control-character class in this tree is deliberate: it refuses or strips controls
      // in untrusted input (header values, file names, PDF strings, selectors, the API token).
      'no-control-regex': 'off',
      // Playwright reads a fixture's or test's first parameter as a destructuring pattern; one
      // that needs no fixture must still write `{}`.
      'no-empty-pattern': ['error', { allowObjectPatternsAsParameters: true }],
      // `const { secret: _, ...rest } = x` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
);
