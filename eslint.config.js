// @ts-check
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    '**/dist/',
    'dist-server/',
    '**/node_modules/',
    'public/',
    '.tmp/',
    'data/',
    'test-results/',
    'playwright-report/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'smart'],
      'no-console': 'off',
    },
  },
  {
    // Browser code: the page and the inference worker.
    files: ['apps/web/**/*.{ts,tsx,js}'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  {
    // Interfaces with two backends (SQLite, Redis) are async in both: callers await, and never ask
    // which backend answered (ARCHITECTURE.md, "Stores are async throughout"). guard.ts is left out:
    // a socket handler may answer at once or later, and the guard serves both.
    files: ['apps/server/src/**/*.ts'],
    ignores: ['apps/server/src/sockets/guard.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "BinaryExpression[operator='instanceof'][right.name='Promise']",
          message: 'Store answers are always promises: await them instead of asking whether one is.',
        },
        {
          selector:
            "TSUnionType:has(> TSTypeReference[typeName.name='Promise']):has(> :not(TSTypeReference[typeName.name='Promise'], TSNullKeyword, TSUndefinedKeyword, TSVoidKeyword))",
          message: 'Return Promise<T>, not T | Promise<T>: both backends of an interface are async.',
        },
      ],
    },
  },
  {
    // The two store backends stand side by side: neither imports the other (ARCHITECTURE.md).
    files: ['apps/server/src/store/redis/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../sqlite', '../sqlite/*', '**/store/sqlite', '**/store/sqlite/*'],
              message:
                'store/redis must not import the SQLite backend; share code through store/ (records, task-rules, views).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/server/src/store/sqlite/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../redis', '../redis/*', '**/store/redis', '**/store/redis/*'],
              message:
                'store/sqlite must not import the Redis backend; share code through store/ (records, task-rules, views).',
            },
          ],
        },
      ],
    },
  },
);
