/**
 * The whole product path for one photo: two volunteer tabs (separate
 * contexts = separate volunteer ids) + a dashboard; bus.jpg uploaded through
 * the file input; labels listed and boxes drawn; the stored detections match
 * the native reference; /live shows the result.
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { DashboardPage } from './pages/DashboardPage';
import { LivePage } from './pages/LivePage';
import { VolunteerPage } from './pages/VolunteerPage';
import { waitForJob } from './support/api';
import { closeNativeDetector, compareDetections, referenceDetections, summarize } from './support/reference';

test.afterAll(async () => {
  await closeNativeDetector();
});

test('bus.jpg: two volunteer tabs detect it, dashboard and /live show it, boxes match native', async ({
  browser,
  page,
  request,
}) => {
  test.setTimeout(180_000);
  const busPath = sampleImage('bus.jpg');
  const reference = referenceDetections(busPath); // computed while the tabs load

  const volunteers = await Promise.all([VolunteerPage.launch(browser), VolunteerPage.launch(browser)]);
  try {
    const probes = await Promise.all(volunteers.map((v) => v.waitReady()));
    expect(probes[0]!.volunteerId).not.toBe(probes[1]!.volunteerId);
    for (const p of probes) {
      expect(p.crossOriginIsolated, 'volunteer page must be cross-origin isolated').toBe(true);
      // Parallelism comes from a pool of workers (one single-threaded session each by default).
      expect(p.workers, 'workers in the pool').toBeGreaterThanOrEqual(1);
      expect(p.numThreads, 'threads per worker').toBeGreaterThanOrEqual(1);
      expect(p.workers! * p.numThreads!, 'the tab should run inference in parallel').toBeGreaterThanOrEqual(
        2,
      );
      expect(p.modelSource).toMatch(/^(network|cache)$/);
    }
    await expect(volunteers[0]!.page.getByTestId('cross-origin-isolated')).toHaveText('true');
    await expect(volunteers[0]!.poolShape).toHaveText(/^\d+ workers? × \d+ threads?$/);
    await expect
      .poll(async () => (await request.get('/healthz').then((r) => r.json())).volunteersOnline)
      .toBeGreaterThanOrEqual(2);

    const dashboard = new DashboardPage(page);
    await dashboard.goto();
    const created = await dashboard.upload(busPath);
    expect(created.tasks.map((t) => t.name)).toEqual(['bus.jpg']);

    const card = dashboard.jobCard(created.id);
    await expect(card.status).toHaveText('done', { timeout: 75_000 });
    await expect(card.progress).toHaveText('1/1');
    await expect(card.detectionLabels.filter({ hasText: /^bus\b/ })).not.toHaveCount(0);
    await expect(card.detectionLabels.filter({ hasText: /^person\b/ })).not.toHaveCount(0);
    await expect.poll(() => card.canvasHasContent(), { message: 'dashboard canvas drawn' }).toBe(true);

    // One of the two volunteers did it (>= 1: a lapsed ack on a busy machine may re-assign it),
    // and drew it on its own canvas.
    await expect
      .poll(async () => (await volunteers[0]!.tasksDoneCount()) + (await volunteers[1]!.tasksDoneCount()))
      .toBeGreaterThanOrEqual(1);
    const worker = (await volunteers[0]!.tasksDoneCount()) >= 1 ? volunteers[0]! : volunteers[1]!;
    await expect(worker.detectionLabels.filter({ hasText: /^bus\b/ })).not.toHaveCount(0);
    await expect.poll(() => worker.canvasHasContent(), { message: 'volunteer canvas drawn' }).toBe(true);

    // The stored result against the native reference.
    const job = await waitForJob(request, created.id);
    expect(job.status).toBe('done');
    const task = job.tasks[0]!;
    const ref = await reference;
    const report = compareDetections(ref, task.detections, { minScore: 0.5, minIoU: 0.8 });
    console.log(`[detect-bus] ${summarize('bus.jpg', report, task.detections.length)}`);
    expect(report.checked).toBeGreaterThan(0);
    expect(report.unmatched, JSON.stringify(report.unmatched)).toEqual([]);

    // /live lists the result with its name and labels.
    const live = new LivePage(page);
    await live.goto();
    const result = live.resultsFor('bus.jpg').first();
    await expect(result).toBeVisible();
    await expect(result.getByTestId('detection-label').filter({ hasText: /^bus\b/ })).not.toHaveCount(0);
    await expect(result.getByTestId('detection-label').filter({ hasText: /^person\b/ })).not.toHaveCount(0);
    await expect(live.volunteersOnline).toHaveText(/^[2-9]\d*$/);
  } finally {
    await Promise.all(volunteers.map((v) => v.close()));
  }
});
