#!/usr/bin/env node
/**
 * `npx tabgrid …` in a checkout: runs the CLI's TypeScript (apps/cli/src/main.ts) through tsx,
 * with this repository's tsconfig (its `@tabgrid/*` paths) wherever the command is run from.
 */
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../apps/cli/src/main.ts');
