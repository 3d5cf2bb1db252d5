#!/usr/bin/env node
/**
 * `npx tabgrid …`. In a checkout with the dev dependencies it runs the CLI's TypeScript
 * (apps/cli/src/main.ts) through tsx, with this repository's tsconfig (its `@tabgrid/*` paths)
 * wherever the command is run from, so it never runs a stale build. Where tsx is not installed
 * (a production install, `npm ci --omit=dev`), it runs the compiled CLI that `npm run build`
 * writes to `dist-server/apps/cli/main.js` with plain node.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist-server/apps/cli/main.js', import.meta.url);
let register = null;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  // No tsx: a production install.
}
if (register) {
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  await import('../apps/cli/src/main.ts');
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write('tabgrid: the CLI is not built; run `npm run build` first\n');
  process.exit(1);
}
