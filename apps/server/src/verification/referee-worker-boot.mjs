// Worker entry, plain JS so that it runs in any worker, with or without a TS loader.
// Compiled server (`npm run build` puts this file beside dist-server/apps/server/referee-worker.js):
// loads that JavaScript with plain node. From the sources (tsx: `npm run dev`, tests): registers
// tsx (TypeScript and the tsconfig `paths`) in this thread, then loads the TypeScript worker.
import { existsSync } from 'node:fs';

const compiled = new URL('./referee-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./referee-worker.ts');
}
