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
