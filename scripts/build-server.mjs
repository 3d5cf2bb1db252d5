#!/usr/bin/env node
/**
 * Step of `npm run build` (after `vite build`): compiles the server, its referee worker, the
 * key CLI, the headless agent and the `tabgrid` CLI to JavaScript in `dist-server/`, so that production runs them
 * with plain `node` (`npm run serve`, the systemd unit in docs/DEPLOY.md), without tsx.
 *
 * esbuild bundles each entry point with everything it imports from this repository (the
 * `@tabgrid/*` packages are resolved through tsconfig.json's `paths`), found by following
 * imports, so no source file is listed here but the entry points. Every npm package stays
 * external (`packages: 'external'`) and is loaded from `node_modules/` at run time: the native
 * ones (better-sqlite3, sharp, onnxruntime-node) find their `.node` binaries relative to their
 * own package, which bundling would break. Why not `tsc`: the sources import without file
 * extensions (`moduleResolution: Bundler`), which Node's ESM loader does not resolve.
 *
 * Layout (three levels below the repository, like the sources' `apps/<app>/src/`, so that
 * `new URL('../../../public/…', import.meta.url)` in the agent still reaches `public/`):
 *
 *   dist-server/apps/server/main.js                   the server (`npm run serve`)
 *   dist-server/apps/server/referee-worker.js         the referee's worker thread
 *   dist-server/apps/server/referee-worker-boot.mjs   its boot file, which loads the line above
 *   dist-server/apps/server/keys-cli.js               `node dist-server/apps/server/keys-cli.js`
 *   dist-server/apps/agent/main.js                    the headless agent
 *   dist-server/apps/cli/main.js                      the `tabgrid` CLI where tsx is not installed
 *
 * Run-time paths (the web app's `dist/`, `public/models/`, the ORT wasm under `dist/ort/`, the
 * data directory) are resolved from the working directory, as with tsx: run from the checkout.
 *
 * @example node scripts/build-server.mjs   # or `npm run build`, which runs vite build first
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist-server');

/** Output name (without `.js`) → entry point. */
const ENTRIES = {
  'apps/server/main': 'apps/server/src/main.ts',
  'apps/server/referee-worker': 'apps/server/src/verification/referee-worker.ts',
  'apps/server/keys-cli': 'apps/server/src/access/keys-cli.ts',
  'apps/agent/main': 'apps/agent/src/main.ts',
  'apps/cli/main': 'apps/cli/src/main.ts',
};

const started = Date.now();
fs.rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  tsconfig: 'tsconfig.json',
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});
// The worker boot file is plain JS: it loads `referee-worker.js` beside it when that exists.
fs.copyFileSync(
  path.join(root, 'apps/server/src/verification/referee-worker-boot.mjs'),
  path.join(outdir, 'apps/server/referee-worker-boot.mjs'),
);
const inputs = Object.keys(result.metafile.inputs).length;
console.log(
  `build-server: ${Object.keys(ENTRIES).length} entry points, ${inputs} source files -> dist-server/ in ${Date.now() - started} ms`,
);
