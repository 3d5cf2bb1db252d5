/**
 * Sections 1 (browser side), 2 and 3: headless Chromium against the real server.
 * - inference: `window.__tabgrid.selfTest` on `/volunteer?threads=N` (no autostart), one page per thread count
 * - cold start: `/volunteer?autostart=1` with a task already queued, until the page reports its first
 *   result; an empty profile, then the same persistent profile reopened (model in IndexedDB)
 * - end to end: two volunteer tabs (separate contexts = separate volunteer ids), 100 photos in one job,
 *   then single-photo jobs one after another; latencies from the API `timings`
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { JobView } from '@tabgrid/protocol';
import { round1, round2, summarize, type Summary } from './stats';
import type { InferenceConfigResult } from './inference-node';
import type { BenchServer } from './server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../e2e/support/chromium';
import { grantVolunteerConsent } from '../../e2e/support/consent';

/** The part of the volunteer page's `window.__tabgrid` probe the benchmark reads (code below runs in the page). */
interface Probe {
  status: string;
  tasksDone: number;
  modelLoadMs: number | null;
  modelSource: string | null;
  selfTest(options: { imageUrl: string; sha256: string; runs: number; numThreads: number }): Promise<unknown>;
}
declare const window: { __tabgrid?: Probe };

export { CHROMIUM_PATH };

export const launchBrowser = () =>
  chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });

/** Serves the benchmark photo to the page at a same-origin URL. */
async function routePhoto(context: BrowserContext, server: BenchServer, photo: Uint8Array): Promise<string> {
  const route = '/bench-assets/photo.jpg';
  await context.route(`${server.url}${route}`, (r) =>
    r.fulfill({
      status: 200,
      body: Buffer.from(photo),
      headers: { 'content-type': 'image/jpeg', 'cross-origin-resource-policy': 'same-origin' },
    }),
  );
  return route;
}

interface SelfTestResult {
  init: { numThreads: number; loadMs: number; crossOriginIsolated: boolean };
  totalMs: number[];
  runMs: number[];
}

async function selfTest(page: Page, imageUrl: string, sha256: string, runs: number, threads: number) {
  await page.waitForFunction(() => window.__tabgrid !== undefined, undefined, { timeout: 30_000 });
  return page.evaluate(
    ({ imageUrl, sha256, runs, threads }) =>
      window.__tabgrid!.selfTest({ imageUrl, sha256, runs, numThreads: threads }) as Promise<SelfTestResult>,
    { imageUrl, sha256, runs, threads },
  );
}

export async function browserInference(
  browser: Browser,
  server: BenchServer,
  photo: Uint8Array,
  sha256: string,
  threads: number,
  runs: number,
  warmup: number,
): Promise<InferenceConfigResult & { crossOriginIsolated: boolean }> {
  const context = await browser.newContext();
  try {
    const imageUrl = await routePhoto(context, server, photo);
    const page = await context.newPage();
    await page.goto(`${server.url}/volunteer?threads=${threads}`);
    const report = await selfTest(page, imageUrl, sha256, runs + warmup, threads);
    if (report.init.numThreads !== threads) {
      throw new Error(`asked for ${threads} WASM threads, the page used ${report.init.numThreads}`);
    }
    return {
      runtime: 'chromium-wasm',
      threads,
      runs,
      warmup,
      loadMs: round1(report.init.loadMs),
      totalMs: summarize(report.totalMs.slice(warmup)),
      runMs: summarize(report.runMs.slice(warmup)),
      crossOriginIsolated: report.init.crossOriginIsolated,
    };
  } finally {
    await context.close();
  }
}

// ------------------------------------------------------------------ cold start

export interface ColdStartRun {
  profile: 'empty' | 'cached';
  /** page.goto -> the page reports its first finished task, ms. */
  toFirstResultMs: number;
  /** The worker's model load (fetch or IndexedDB + hash + session), ms. */
  modelLoadMs: number | null;
  modelSource: string | null;
  /** Server timings of that task: assigned -> stored, ms. */
  assignToStoredMs: number | null;
}

async function coldStartOnce(
  userDataDir: string,
  server: BenchServer,
  photo: Uint8Array,
  profile: 'empty' | 'cached',
): Promise<ColdStartRun> {
  const job = await server.upload([{ name: `cold-${profile}.jpg`, bytes: photo }]);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    await grantVolunteerConsent(context); // autostart needs consent given once on the device
    const page = context.pages()[0] ?? (await context.newPage());
    const t0 = performance.now();
    await page.goto(`${server.url}/volunteer?autostart=1`);
    await page.waitForFunction(() => (window.__tabgrid?.tasksDone ?? 0) >= 1, undefined, {
      timeout: 120_000,
      polling: 10,
    });
    const toFirstResultMs = performance.now() - t0;
    const probe = await page.evaluate(() => ({
      modelLoadMs: window.__tabgrid!.modelLoadMs,
      modelSource: window.__tabgrid!.modelSource,
    }));
    const view = await server.waitForJob(job.id, 10_000);
    const t = view.tasks[0]!.timings;
    return {
      profile,
      toFirstResultMs: round1(toFirstResultMs),
      modelLoadMs: probe.modelLoadMs === null ? null : round1(probe.modelLoadMs),
      modelSource: probe.modelSource,
      assignToStoredMs: t.assignedAt !== null && t.completedAt !== null ? t.completedAt - t.assignedAt : null,
    };
  } finally {
    await context.close();
  }
}

export async function coldStart(server: BenchServer, photo: Uint8Array): Promise<ColdStartRun[]> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-bench-profile-'));
  try {
    const empty = await coldStartOnce(userDataDir, server, photo, 'empty');
    const cached = await coldStartOnce(userDataDir, server, photo, 'cached');
    return [empty, cached];
  } finally {
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ end to end

export interface EndToEndResult {
  tabs: number;
  threadsPerTab: number;
  batchPhotos: number;
  singleJobs: number;
  /** Each tab's own inference rate, measured alone (self-test), photos/s. */
  isolatedRates: number[];
  /** assign -> ack over every task, ms (server timings, 1 ms resolution). */
  ackMs: Summary;
  /** submit -> stored for the batch (includes queueing behind the other photos), ms. */
  batchResultMs: Summary;
  /** submit -> stored for single-photo jobs submitted one after another on warm tabs, ms. */
  singleResultMs: Summary;
  /** batch photos / (last stored - submitted), photos/s. */
  throughput: number;
  /** throughput / sum(isolatedRates). */
  efficiency: number;
  /** Photos each tab finished. */
  perTab: number[];
  failed: number;
}

export async function endToEnd(
  browser: Browser,
  server: BenchServer,
  photo: Uint8Array,
  sha256: string,
  options: { batch: number; singles: number; threads: number; isolatedRuns: number },
): Promise<EndToEndResult> {
  const contexts: BrowserContext[] = [];
  try {
    const pages: Page[] = [];
    for (let i = 0; i < 2; i++) {
      const context = await browser.newContext();
      contexts.push(context);
      await grantVolunteerConsent(context);
      await routePhoto(context, server, photo);
      const page = await context.newPage();
      await page.goto(`${server.url}/volunteer?autostart=1&threads=${options.threads}`);
      await page
        .waitForFunction(() => window.__tabgrid?.modelLoadMs != null, undefined, { timeout: 120_000 })
        .catch(async (err: unknown) => {
          const state = await page.evaluate(() => JSON.stringify(window.__tabgrid ?? null)).catch(() => '?');
          throw new Error(`volunteer tab ${i + 1} never loaded the model; probe: ${state}`, { cause: err });
        });
      pages.push(page);
    }
    // Isolated rates: one tab at a time, the other idle (no work queued).
    const isolatedRates: number[] = [];
    for (const page of pages) {
      const report = await selfTest(
        page,
        '/bench-assets/photo.jpg',
        sha256,
        options.isolatedRuns + 2,
        options.threads,
      );
      const median = summarize(report.totalMs.slice(2)).p50;
      isolatedRates.push(round2(1000 / median));
    }
    const before = await Promise.all(pages.map((p) => p.evaluate(() => window.__tabgrid!.tasksDone)));

    const batchJob = await server.upload(
      Array.from({ length: options.batch }, (_, i) => ({ name: `batch-${i}.jpg`, bytes: photo })),
    );
    const batch = await server.waitForJob(batchJob.id, 600_000, 100);
    const singles: JobView[] = [];
    for (let i = 0; i < options.singles; i++) {
      const job = await server.upload([{ name: `single-${i}.jpg`, bytes: photo }]);
      singles.push(await server.waitForJob(job.id, 60_000, 10));
    }
    const after = await Promise.all(pages.map((p) => p.evaluate(() => window.__tabgrid!.tasksDone)));

    const tasks = [...batch.tasks, ...singles.flatMap((j) => j.tasks)];
    const ack = tasks.flatMap((t) =>
      t.timings.ackedAt !== null && t.timings.assignedAt !== null
        ? [t.timings.ackedAt - t.timings.assignedAt]
        : [],
    );
    const latency = (job: JobView) =>
      job.tasks.flatMap((t) =>
        t.timings.completedAt !== null && t.timings.submittedAt !== null
          ? [t.timings.completedAt - t.timings.submittedAt]
          : [],
      );
    const submitted = Math.min(...batch.tasks.map((t) => t.timings.submittedAt ?? Infinity));
    const lastStored = Math.max(...batch.tasks.map((t) => t.timings.completedAt ?? 0));
    const throughput = batch.tasks.length / ((lastStored - submitted) / 1000);
    const sumRates = isolatedRates.reduce((a, b) => a + b, 0);
    return {
      tabs: pages.length,
      threadsPerTab: options.threads,
      batchPhotos: options.batch,
      singleJobs: options.singles,
      isolatedRates,
      ackMs: summarize(ack),
      batchResultMs: summarize(latency(batch)),
      singleResultMs: summarize(singles.flatMap(latency)),
      throughput: round2(throughput),
      efficiency: Math.round((throughput / sumRates) * 1000) / 1000,
      perTab: after.map((a, i) => a - before[i]!),
      failed: tasks.filter((t) => t.status !== 'done').length,
    };
  } finally {
    for (const c of contexts) await c.close();
  }
}

export const readPhoto = (file: string) => new Uint8Array(readFileSync(file));
