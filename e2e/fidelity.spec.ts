/**
 * Browser-path fidelity on every sample photo: onnxruntime-web in volunteer
 * tabs vs the native onnxruntime-node reference. Every reference detection
 * with score >= 0.5 must be found with the same label and IoU >= 0.8.
 */
import { expect, test } from '@playwright/test';
import { sampleImages } from '../scripts/assets';
import { VolunteerPage } from './pages/VolunteerPage';
import { createJobViaApi, waitForJob } from './support/api';
import { closeNativeDetector, compareDetections, referenceDetections, summarize } from './support/reference';

test.afterAll(async () => {
  await closeNativeDetector();
});

test('every sample photo: browser detections match the native reference', async ({ browser, request }) => {
  test.setTimeout(240_000);
  const images = sampleImages();
  const volunteers = await Promise.all([VolunteerPage.launch(browser), VolunteerPage.launch(browser)]);
  try {
    await Promise.all(volunteers.map((v) => v.waitReady()));

    const created = await createJobViaApi(
      request,
      images.map((i) => i.path),
    );
    expect(created.tasks.map((t) => t.name)).toEqual(images.map((i) => i.name));

    // References are computed while the browsers work.
    const references = new Map<string, Awaited<ReturnType<typeof referenceDetections>>>();
    for (const image of images) references.set(image.name, await referenceDetections(image.path));

    const job = await waitForJob(request, created.id, 180_000);
    expect(
      job.tasks
        .filter((t) => t.status !== 'done')
        .map((t) => `${t.name}: ${t.status} ${t.error?.code ?? ''}`),
    ).toEqual([]);

    const lines: string[] = [];
    const failures: string[] = [];
    for (const task of job.tasks) {
      const reference = references.get(task.name);
      expect(reference, task.name).toBeDefined();
      const report = compareDetections(reference!, task.detections, { minScore: 0.5, minIoU: 0.8 });
      lines.push(summarize(task.name, report, task.detections.length));
      for (const u of report.unmatched) {
        failures.push(
          `${task.name}: ${u.reference.label} ${u.reference.score.toFixed(3)} best IoU ${u.bestIoU}`,
        );
      }
    }
    console.log(`[fidelity] ${images.length} photos\n  ${lines.join('\n  ')}`);
    expect(failures).toEqual([]);
  } finally {
    await Promise.all(volunteers.map((v) => v.close()));
  }
});
