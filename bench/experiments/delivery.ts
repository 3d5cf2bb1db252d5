/**
 * Delivery (issue 9): bytes a volunteer downloads and time until its model is ready, on a first
 * visit (empty profile) and a repeat visit (the same profile reopened), against a running server.
 * Bytes are what Chromium received from the network (encoded body + headers, as Playwright reports
 * them per request, dedicated workers included). A response served from the HTTP cache without asking
 * the server (Playwright reports a negative body size) counts 0 bytes; a revalidation (`304`,
 * empty body) counts its headers and one round trip.
 *
 *   npx tsx bench/experiments/delivery.ts http://127.0.0.1:8080 [runs=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../e2e/support/chromium';
import { grantVolunteerConsent } from '../../e2e/support/consent';
import { summarize } from '../lib/stats';

const SERVER = process.argv[2] ?? 'http://127.0.0.1:8080';
const RUNS = Number(process.argv[3] ?? 3);

declare const window: { __tabgrid?: { modelLoadMs: number | null } };

interface Visit {
  bytes: number;
  requests: number;
  /** Requests that reached the server (not answered from the HTTP cache alone). */
  roundTrips: number;
  /** page.goto -> the worker pool's model is loaded (ms). */
  readyMs: number;
  byFile: Record<string, number>;
}

async function visit(userDataDir: string): Promise<Visit> {
  const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  await grantVolunteerConsent(context); // autostart needs consent given once on the device
  const byFile: Record<string, number> = {};
  let requests = 0;
  let roundTrips = 0;
  const pending: Promise<void>[] = [];
  context.on('requestfinished', (request) => {
    pending.push(
      request.sizes().then((s) => {
        requests++;
        if (s.responseBodySize < 0) return; // from the cache, no request sent
        roundTrips++;
        const bytes = s.responseBodySize + s.responseHeadersSize;
        const name = new URL(request.url()).pathname.replace(/^.*\//, '') || '/';
        byFile[name] = (byFile[name] ?? 0) + bytes;
      }),
    );
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const t0 = performance.now();
    await page.goto(`${SERVER}/volunteer?autostart=1`);
    await page.waitForFunction(() => (window.__tabgrid?.modelLoadMs ?? null) !== null, undefined, {
      timeout: 120_000,
      polling: 10,
    });
    const readyMs = performance.now() - t0;
    await page.waitForTimeout(500); // let the requests in flight settle
    await Promise.all(pending);
    const bytes = Object.values(byFile).reduce((a, b) => a + b, 0);
    return { bytes, requests, roundTrips, readyMs, byFile };
  } finally {
    await context.close();
  }
}

async function main() {
  const first: Visit[] = [];
  const repeat: Visit[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-delivery-'));
    try {
      first.push(await visit(dir));
      repeat.push(await visit(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const mb = (n: number) => +(n / 1e6).toFixed(2);
  const show = (label: string, visits: Visit[]) => {
    console.log(
      `${label}: ${mb(visits[0]!.bytes)} MB, ${visits[0]!.roundTrips} of ${visits[0]!.requests} requests sent to the server; ready ms ${JSON.stringify(summarize(visits.map((v) => v.readyMs)))}`,
    );
    const big = Object.entries(visits[0]!.byFile).filter(([, b]) => b > 50_000);
    console.log(`  largest: ${big.map(([f, b]) => `${f} ${mb(b)} MB`).join(', ') || '(none over 50 kB)'}`);
  };
  show('first visit', first);
  show('repeat visit', repeat);
}

await main();
