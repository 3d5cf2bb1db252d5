/**
 * The single-thread fallback: without COOP/COEP the page is not cross-origin
 * isolated (no SharedArrayBuffer), so the worker must run onnxruntime-web with
 * one thread, and still produce the native result.
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { VolunteerPage } from './pages/VolunteerPage';
import { grantVolunteerConsent } from './support/consent';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium';
import { createJobViaApi, waitForJob } from './support/api';
import { closeNativeDetector, compareDetections, referenceDetections, summarize } from './support/reference';

const ISOLATION_HEADERS = new Set(['cross-origin-opener-policy', 'cross-origin-embedder-policy']);

// A document served through route.fulfill has no IP address, so Chromium's Local Network Access
// checks treat it as public and block its WebSocket to 127.0.0.1. Not a product concern (a real
// non-isolated deployment is served normally); relax the check for this file's browser only.
test.use({
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, '--disable-features=LocalNetworkAccessChecks'],
  },
});

test.afterAll(async () => {
  await closeNativeDetector();
});

test('a volunteer that is not cross-origin isolated works single-threaded', async ({ browser, request }) => {
  test.setTimeout(180_000);
  const context = await browser.newContext();
  await grantVolunteerConsent(context);
  // Strip COOP/COEP from the page itself: without them the document (and so its worker) is not
  // cross-origin isolated. Only the navigation is routed; socket.io long-polling stays untouched.
  await context.route(
    (url) => url.pathname === '/volunteer',
    async (route) => {
      const response = await route.fetch();
      const headers = Object.fromEntries(
        Object.entries(response.headers()).filter(([name]) => !ISOLATION_HEADERS.has(name.toLowerCase())),
      );
      await route.fulfill({ response, headers });
    },
  );
  await grantVolunteerConsent(context);
  const volunteer = new VolunteerPage(await context.newPage());
  try {
    await volunteer.goto('autostart=1');
    const probe = await volunteer.waitReady();
    expect(probe.crossOriginIsolated).toBe(false);
    expect(probe.numThreads).toBe(1);
    expect(probe.workers).toBe(1);
    await expect(volunteer.poolShape).toHaveText('1 worker × 1 thread');
    await expect(volunteer.page.getByTestId('cross-origin-isolated')).toHaveText('false');

    const busPath = sampleImage('bus.jpg');
    const created = await createJobViaApi(request, [busPath]);
    const job = await waitForJob(request, created.id);
    expect(job.status).toBe('done');
    await expect.poll(() => volunteer.tasksDoneCount()).toBeGreaterThanOrEqual(1);

    const task = job.tasks[0]!;
    const report = compareDetections(await referenceDetections(busPath), task.detections);
    console.log(`[single-thread] ${summarize('bus.jpg', report, task.detections.length)}`);
    expect(report.checked).toBeGreaterThan(0);
    expect(report.unmatched, JSON.stringify(report.unmatched)).toEqual([]);
  } finally {
    await context.close();
  }
});
