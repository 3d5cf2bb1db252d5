import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The installed onnxruntime-web version: its runtime files live in `public/ort/<version>/`. */
const ORT_VERSION = (
  JSON.parse(readFileSync(here('./node_modules/onnxruntime-web/package.json'), 'utf8')) as { version: string }
).version;

/** Cross-origin isolation: required for SharedArrayBuffer, i.e. multi-threaded WASM. */
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * onnxruntime-web's default (used only when `env.wasm.wasmPaths` is unset) is
 * `new URL('ort-wasm-simd-threaded.wasm', import.meta.url)`, which makes Vite
 * emit a second 14 MB copy of the runtime into dist/assets. We always load the
 * runtime from `/ort/<version>/` (copied from the installed package), so point the
 * default there too and emit nothing.
 */
function ortRuntimeFromOwnOrigin(): Plugin {
  const pattern = /new URL\((["'`])(ort-wasm-simd-threaded[\w.]*\.wasm)\1,\s*import\.meta\.url\)/g;
  return {
    name: 'tabgrid:ort-runtime-from-own-origin',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('onnxruntime-web')) return null;
      const out = code.replace(
        pattern,
        (_m, _q, file: string) => `new URL("/ort/${ORT_VERSION}/${file}", self.location.href)`,
      );
      return out === code ? null : { code: out, map: null };
    },
  };
}

// 127.0.0.1, not localhost: the server listens on IPv4 loopback by default (HOST).
const backend = process.env.TABGRID_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: here('./apps/web'),
  publicDir: here('./public'),
  plugins: [react(), ortRuntimeFromOwnOrigin()],
  resolve: {
    alias: {
      '@tabgrid/protocol': here('./packages/protocol/src/index.ts'),
      '@tabgrid/detector': here('./packages/detector/src/index.ts'),
      '@tabgrid/volunteer-client': here('./packages/volunteer-client/src/index.ts'),
      '@tabgrid/client': here('./packages/client/src/index.ts'),
    },
  },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
  },
  worker: { format: 'es', plugins: () => [ortRuntimeFromOwnOrigin()] },
  // onnxruntime-web loads its own .mjs/.wasm at runtime (from /ort/); pre-bundling breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: {
    headers: isolationHeaders,
    proxy: {
      '/api': backend,
      '/healthz': backend,
      '/img': backend,
      '/socket.io': { target: backend, ws: true },
    },
  },
  preview: { headers: isolationHeaders },
});
