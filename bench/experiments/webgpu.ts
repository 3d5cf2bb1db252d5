/**
 * Technique 7: onnxruntime-web's WebGPU EP vs its WASM EP, in one scratch page on the real server's
 * origin (cross-origin isolated). `ort.webgpu.min.mjs` and the asyncify .mjs/.wasm it needs (1.30's WebGPU
 * build does not use the jsep files in public/ort/) are served from node_modules by a Playwright route. Input: a constant [1,3,416,416] tensor;
 * times session.run (model only), median of RUNS after 3 warm-up runs, main thread.
 *
 *   npx tsx bench/experiments/webgpu.ts [runs=15]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from '@playwright/test';
import { REPO_ROOT } from '../../scripts/assets';
import { CHROMIUM_PATH } from '../lib/browser';
import { startBenchServer } from '../lib/server';

const RUNS = Number(process.argv[2] ?? 15);

async function main() {
  const server = await startBenchServer({ port: 8932 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--no-first-run', '--disable-dev-shm-usage', '--enable-unsafe-webgpu'],
    headless: true,
  });
  try {
    const context = await browser.newContext();
    const ortFile = path.join(REPO_ROOT, 'node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs');
    await context.route(`${server.url}/exp-ort/*`, (r) => {
      const name = path.basename(new URL(r.request().url()).pathname);
      return r.fulfill({
        status: 200,
        body: readFileSync(path.join(path.dirname(ortFile), name)),
        headers: {
          'content-type': name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript',
          'cross-origin-resource-policy': 'same-origin',
        },
      });
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.error('[page]', m.text());
    });
    await page.goto(`${server.url}/`);
    const result = await page.evaluate(`(async () => {
      const ort = await import('/exp-ort/ort.webgpu.min.mjs');
      ort.env.wasm.wasmPaths = location.origin + '/exp-ort/';
      ort.env.wasm.numThreads = 2;
      ort.env.logLevel = 'error';
      const model = new Uint8Array(await (await fetch('/models/yolox_nano.onnx')).arrayBuffer());
      const input = new Float32Array(3 * 416 * 416).fill(114);
      const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[Math.floor(s.length / 2)] * 10) / 10; };
      const out = { crossOriginIsolated: self.crossOriginIsolated };
      for (const ep of ['webgpu', 'wasm']) {
        try {
          const t0 = performance.now();
          const s = await ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: 'all' });
          const createMs = performance.now() - t0;
          const times = []; let first = null;
          for (let i = 0; i < ${RUNS} + 3; i++) {
            const t = performance.now();
            const o = await s.run({ images: new ort.Tensor('float32', input, [1, 3, 416, 416]) });
            const v = o[s.outputNames[0]];
            const data = await (v.getData ? v.getData() : v.data);
            if (i === 0) first = Array.from(data.slice(0, 6)).map((x) => Math.round(x * 1000) / 1000);
            if (i >= 3) times.push(performance.now() - t);
          }
          out[ep] = { createMs: Math.round(createMs), runMsP50: med(times), min: Math.round(Math.min(...times) * 10) / 10, firstOutputs: first };
          await s.release();
        } catch (e) { out[ep] = { error: String(e) }; }
      }
      return out;
    })()`);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await browser.close();
    await server.stop();
  }
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
