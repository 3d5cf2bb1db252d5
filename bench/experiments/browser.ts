/**
 * Browser techniques, headless Chromium against the real server (started like the bench does):
 *  1. one tab with 2 WASM threads vs two tabs with 1 thread each (vs two tabs x 2 threads),
 *     photos/s over PHOTOS photos of bus.jpg via `window.__tabgrid.selfTest`, alternating, ROUNDS rounds;
 *  2. preprocessing: createImageBitmap at full size + OffscreenCanvas + JS bilinear letterbox (what the
 *     worker does) vs createImageBitmap({resizeWidth, resizeHeight, resizeQuality}) + canvas -> BGR floats,
 *     ms per photo and the tensor difference;
 *  5. (browser part) the same preprocessing timings on the 416 pre-resized JPEGs (run preresize.ts first);
 *  7. WebGPU: navigator.gpu / requestAdapter() with several flag sets.
 *
 *   npx tsx bench/experiments/browser.ts [--only=threads,preprocess,webgpu] [--rounds=3] [--photos=30]
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { imagesDir, modelPath } from '../../scripts/assets';
import { CHROMIUM_PATH, launchBrowser } from '../lib/browser';
import { startBenchServer, type BenchServer } from '../lib/server';
import { summarize } from '../lib/stats';

const arg = (n: string, d: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const ONLY = arg('only', 'threads,preprocess,webgpu').split(',');
const ROUNDS = Number(arg('rounds', '3'));
const PHOTOS = Number(arg('photos', '30'));
const PRERESIZED_DIR = path.join(os.tmpdir(), 'tabgrid-preresized');
const sha256 = createHash('sha256').update(readFileSync(modelPath())).digest('hex');

async function routeImages(context: BrowserContext, server: BenchServer) {
  await context.route(`${server.url}/exp/**`, (r) => {
    const url = new URL(r.request().url());
    const [, , kind, name] = url.pathname.split('/');
    const file = kind === 'small' ? path.join(PRERESIZED_DIR, name!) : path.join(imagesDir(), name!);
    return r.fulfill({
      status: 200,
      body: readFileSync(file),
      headers: {
        'content-type': name!.endsWith('.png') ? 'image/png' : 'image/jpeg',
        'cross-origin-resource-policy': 'same-origin',
      },
    });
  });
}

const selfTestScript = (runs: number, threads: number) =>
  `window.__tabgrid.selfTest({ imageUrl: '/exp/orig/bus.jpg', sha256: '${sha256}', runs: ${runs}, numThreads: ${threads} })`;

async function openVolunteer(
  server: BenchServer,
  browser: import('@playwright/test').Browser,
  threads: number,
): Promise<Page> {
  const context = await browser.newContext();
  await routeImages(context, server);
  const page = await context.newPage();
  await page.goto(`${server.url}/volunteer?threads=${threads}`);
  await page.waitForFunction('window.__tabgrid !== undefined', undefined, { timeout: 30_000 });
  const r = (await page.evaluate(selfTestScript(3, threads))) as {
    init: { numThreads: number; crossOriginIsolated: boolean };
  };
  if (r.init.numThreads !== threads) throw new Error(`asked ${threads} threads, got ${r.init.numThreads}`);
  if (!r.init.crossOriginIsolated) throw new Error('page is not cross-origin isolated');
  return page;
}

async function threadsExperiment(server: BenchServer) {
  const browser = await launchBrowser();
  try {
    const configs: { name: string; pages: Page[]; threads: number }[] = [
      { name: '1 tab x 2 threads', pages: [await openVolunteer(server, browser, 2)], threads: 2 },
      {
        name: '2 tabs x 1 thread',
        pages: [await openVolunteer(server, browser, 1), await openVolunteer(server, browser, 1)],
        threads: 1,
      },
      {
        name: '2 tabs x 2 threads',
        pages: [await openVolunteer(server, browser, 2), await openVolunteer(server, browser, 2)],
        threads: 2,
      },
      { name: '1 tab x 1 thread', pages: [await openVolunteer(server, browser, 1)], threads: 1 },
    ];
    const rates: Record<string, number[]> = {};
    const perPhoto: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of configs) {
        const each = Math.ceil(PHOTOS / c.pages.length);
        const t0 = performance.now();
        const reports = (await Promise.all(
          c.pages.map((p) => p.evaluate(selfTestScript(each, c.threads))),
        )) as { totalMs: number[] }[];
        const wall = performance.now() - t0;
        (rates[c.name] ??= []).push((each * c.pages.length) / (wall / 1000));
        (perPhoto[c.name] ??= []).push(...reports.flatMap((r) => r.totalMs));
      }
    }
    return Object.fromEntries(
      Object.entries(rates).map(([k, v]) => [
        k,
        {
          photosPerSecond: v.map((x) => Math.round(x * 100) / 100),
          median: summarize(v).p50,
          workerMsPerPhoto: summarize(perPhoto[k]!),
        },
      ]),
    );
  } finally {
    await browser.close();
  }
}

/** Runs in the page (plain JS string: no bundler helpers). */
const PREPROCESS_PAGE = String.raw`async ({ images, runs, warmup }) => {
  const SIZE = 416, PAD = 114;
  const geometry = (w, h) => { const s = Math.min(SIZE / w, SIZE / h); return { w: Math.max(1, Math.min(SIZE, Math.floor(w * s))), h: Math.max(1, Math.min(SIZE, Math.floor(h * s))) }; };
  function letterbox(data, sw, sh, channels) {
    const { w: dw, h: dh } = geometry(sw, sh);
    const plane = SIZE * SIZE; const t = new Float32Array(3 * plane).fill(PAD);
    const fx = sw / dw, fy = sh / dh; const x0s = new Int32Array(dw), x1s = new Int32Array(dw), wxs = new Float32Array(dw);
    for (let dx = 0; dx < dw; dx++) { let sx = (dx + 0.5) * fx - 0.5; if (sx < 0) sx = 0; let x0 = Math.floor(sx); if (x0 > sw - 1) x0 = sw - 1; x0s[dx] = x0 * channels; x1s[dx] = Math.min(x0 + 1, sw - 1) * channels; wxs[dx] = Math.min(sx - x0, 1); }
    for (let dy = 0; dy < dh; dy++) {
      let sy = (dy + 0.5) * fy - 0.5; if (sy < 0) sy = 0; let y0 = Math.floor(sy); if (y0 > sh - 1) y0 = sh - 1; const y1 = Math.min(y0 + 1, sh - 1); const wy = Math.min(sy - y0, 1);
      const r0 = y0 * sw * channels, r1 = y1 * sw * channels, out = dy * SIZE;
      for (let dx = 0; dx < dw; dx++) {
        const a = r0 + x0s[dx], b = r0 + x1s[dx], c = r1 + x0s[dx], d = r1 + x1s[dx], wx = wxs[dx];
        const w00 = (1 - wx) * (1 - wy), w01 = wx * (1 - wy), w10 = (1 - wx) * wy, w11 = wx * wy, o = out + dx;
        for (let ch = 0; ch < 3; ch++) t[(2 - ch) * plane + o] = data[a + ch] * w00 + data[b + ch] * w01 + data[c + ch] * w10 + data[d + ch] * w11;
      }
    }
    return t;
  }
  let canvas = null, ctx = null;
  const ctxFor = (w, h) => { if (!canvas) { canvas = new OffscreenCanvas(w, h); ctx = canvas.getContext('2d', { willReadFrequently: true }); } else if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; } return ctx; };
  async function current(blob) { // what decodeImage.ts + letterboxToTensor do
    const t0 = performance.now();
    const bm = await createImageBitmap(blob); const { width, height } = bm;
    const c = ctxFor(width, height); c.clearRect(0, 0, width, height); c.drawImage(bm, 0, 0); bm.close();
    const { data } = c.getImageData(0, 0, width, height);
    const t1 = performance.now();
    const t = letterbox(data, width, height, 4);
    return { t, decodeMs: t1 - t0, totalMs: performance.now() - t0 };
  }
  async function resized(blob, w, h, q) { // size known in advance (TaskAssignment carries width/height)
    const t0 = performance.now();
    const g = geometry(w, h);
    const bm = await createImageBitmap(blob, { resizeWidth: g.w, resizeHeight: g.h, resizeQuality: q });
    const c = ctxFor(g.w, g.h); c.clearRect(0, 0, g.w, g.h); c.drawImage(bm, 0, 0); bm.close();
    const { data } = c.getImageData(0, 0, g.w, g.h);
    const t1 = performance.now();
    const plane = SIZE * SIZE; const t = new Float32Array(3 * plane).fill(PAD);
    for (let y = 0; y < g.h; y++) for (let x = 0; x < g.w; x++) { const i = (y * g.w + x) * 4, o = y * SIZE + x; t[o] = data[i + 2]; t[plane + o] = data[i + 1]; t[2 * plane + o] = data[i]; }
    return { t, decodeMs: t1 - t0, totalMs: performance.now() - t0 };
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[Math.floor(s.length / 2)] * 100) / 100; };
  const out = [];
  for (const img of images) {
    const bytes = await (await fetch(img.url)).arrayBuffer();
    const blob = new Blob([bytes], { type: img.mime });
    const probe = await createImageBitmap(blob); const W = probe.width, H = probe.height; probe.close();
    const methods = { 'full decode + JS bilinear': () => current(blob) };
    for (const q of ['low', 'medium', 'high']) methods['createImageBitmap resize ' + q] = () => resized(blob, W, H, q);
    const row = { image: img.url, size: W + 'x' + H, bytes: bytes.byteLength };
    let ref = null;
    // interleave methods per iteration so load changes hit all of them alike
    const times = {}, decode = {};
    for (let i = 0; i < warmup + runs; i++) for (const [name, fn] of Object.entries(methods)) {
      const r = await fn();
      if (i >= warmup) { (times[name] ??= []).push(r.totalMs); (decode[name] ??= []).push(r.decodeMs); }
      if (name.startsWith('full')) ref = r.t; else if (i === 0) {
        const g = geometry(W, H); let sum = 0, max = 0, n = 0; const plane = SIZE * SIZE;
        for (let ch = 0; ch < 3; ch++) for (let y = 0; y < g.h; y++) for (let x = 0; x < g.w; x++) { const k = ch * plane + y * SIZE + x; const d = Math.abs(r.t[k] - ref[k]); sum += d; n++; if (d > max) max = d; }
        row['meanAbsDiff ' + name] = Math.round((sum / n) * 100) / 100; row['maxAbsDiff ' + name] = Math.round(max);
      }
    }
    for (const k of Object.keys(times)) { row['ms ' + k] = med(times[k]); row['decodeMs ' + k] = med(decode[k]); }
    out.push(row);
  }
  return out;
}`;

async function preprocessExperiment(server: BenchServer) {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    await routeImages(context, server);
    const page = await context.newPage();
    await page.goto(`${server.url}/volunteer`);
    const images = [
      { url: '/exp/orig/bus.jpg', mime: 'image/jpeg' },
      { url: '/exp/orig/street.png', mime: 'image/png' },
      { url: '/exp/orig/dog.jpg', mime: 'image/jpeg' },
      { url: '/exp/orig/000139.jpg', mime: 'image/jpeg' },
    ];
    if (existsSync(PRERESIZED_DIR))
      images.push(
        { url: '/exp/small/bus.jpg', mime: 'image/jpeg' },
        { url: '/exp/small/street.jpg', mime: 'image/jpeg' },
        { url: '/exp/small/dog.jpg', mime: 'image/jpeg' },
      );
    return await page.evaluate(`(${PREPROCESS_PAGE})(${JSON.stringify({ images, runs: 20, warmup: 3 })})`);
  } finally {
    await browser.close();
  }
}

async function webgpuExperiment(server: BenchServer) {
  const base = ['--no-sandbox', '--no-first-run', '--disable-dev-shm-usage', '--enable-unsafe-webgpu'];
  const flagSets: Record<string, string[]> = {
    'bench flags (--disable-gpu)': ['--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu'],
    '--enable-unsafe-webgpu': base,
    '+ Vulkan/SwiftShader': [
      ...base,
      '--enable-features=Vulkan',
      '--use-angle=swiftshader',
      '--use-webgpu-adapter=swiftshader',
    ],
    '+ --use-vulkan=swiftshader': [
      ...base,
      '--enable-features=Vulkan,WebGPU',
      '--use-vulkan=swiftshader',
      '--use-webgpu-adapter=swiftshader',
      '--ignore-gpu-blocklist',
    ],
  };
  const out: Record<string, unknown> = {};
  for (const [name, args] of Object.entries(flagSets)) {
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args, headless: true });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      out[name] = await page.evaluate(`(async () => {
        const has = typeof navigator.gpu !== 'undefined';
        if (!has) return { navigatorGpu: false, adapter: null };
        try {
          const a = await navigator.gpu.requestAdapter();
          if (!a) return { navigatorGpu: true, adapter: null };
          const info = a.info || {};
          return { navigatorGpu: true, adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, isFallback: a.isFallbackAdapter } };
        } catch (e) { return { navigatorGpu: true, adapter: null, error: String(e) }; }
      })()`);
    } catch (err) {
      out[name] = { error: String(err) };
    } finally {
      await browser.close();
    }
  }
  return out;
}

async function main() {
  const server = await startBenchServer({ port: Number(arg('port', '8931')) });
  const results: Record<string, unknown> = {
    loadAvgAtStart: os.loadavg().map((x) => Math.round(x * 10) / 10),
  };
  try {
    if (ONLY.includes('webgpu')) results.webgpu = await webgpuExperiment(server);
    if (ONLY.includes('preprocess')) results.preprocess = await preprocessExperiment(server);
    if (ONLY.includes('threads')) results.threads = await threadsExperiment(server);
  } finally {
    await server.stop();
  }
  results.loadAvgAtEnd = os.loadavg().map((x) => Math.round(x * 10) / 10);
  console.log(JSON.stringify(results, null, 2));
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
