/**
 * The requester's dashboard (issue 9), real server, real browser, real model in a volunteer
 * tab: a partial upload with one bad file, the score slider and class toggles changing what is
 * drawn, the lightbox, the COCO export button, the no-volunteer banner, keyboard focus, the
 * axe-core check and a 390 px phone viewport.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { CocoExportSchema, JobCreatedSchema, type JobView } from '@tabgrid/protocol';
import sharp from 'sharp';
import { sampleImage } from '../scripts/assets';
import { DashboardPage, JobCard } from './pages/DashboardPage';
import { VolunteerPage } from './pages/VolunteerPage';
import { getJob, waitForJob } from './support/api';
import { seriousAxeViolations } from './support/axe';
import { authHeaders } from './support/keys';

/** axe-core violations of impact serious or critical (the bar in issue 9). */
const visible = (job: JobView, name: string, minScore: number, hidden: string[] = []) =>
  job.tasks
    .find((t) => t.name === name)!
    .detections.filter((d) => d.score >= minScore && !hidden.includes(d.label)).length;

test('no volunteer online: the banner says so; keyboard focus on the upload control is visible; axe passes', async ({
  page,
  request,
}) => {
  await expect
    .poll(async () => (await request.get('/healthz').then((r) => r.json())).volunteersOnline)
    .toBe(0);
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await expect(dashboard.queueBanner).toHaveAttribute('data-kind', 'no-volunteers');
  await expect(dashboard.queueBanner).toContainText('No volunteer is online');

  // Keyboard only: Tab reaches the file input, and its label shows a focus outline.
  let reached = false;
  for (let i = 0; i < 30 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await dashboard.fileInput.evaluate(
      (el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement,
    );
  }
  expect(reached, 'Tab reaches the file input').toBe(true);
  const outline = await dashboard.fileInput.evaluate((el) => {
    const label = el.parentElement!;
    const style = label.ownerDocument.defaultView!.getComputedStyle(label);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
  expect(outline).toMatch(/^solid [1-9]/);

  expect(await seriousAxeViolations(page)).toEqual([]);
});

test('partial upload with a bad file, slider and class toggles, lightbox, COCO export, phone width', async ({
  browser,
  page,
  request,
}, testInfo) => {
  test.setTimeout(180_000);
  const volunteer = await VolunteerPage.launch(browser);
  try {
    await volunteer.waitReady();
    const dashboard = new DashboardPage(page);
    await dashboard.goto();
    await expect(dashboard.queueBanner).not.toHaveAttribute('data-kind', 'no-volunteers');

    // One bad file among two photos: the photos are stored, the bad one is listed with its code.
    const bad = testInfo.outputPath('notes.jpg');
    await writeFile(bad, 'this is not a photo\n'.repeat(50));
    const created = await dashboard.upload([sampleImage('bus.jpg'), bad, sampleImage('dog.jpg')]);
    expect(created.tasks.map((t) => t.name)).toEqual(['bus.jpg', 'dog.jpg']);
    expect(created.rejected?.map((r) => [r.name, r.code])).toEqual([['notes.jpg', 'unsupported_format']]);
    await expect(dashboard.rejectedFiles).toHaveCount(1);
    await expect(dashboard.rejectedFiles.first()).toContainText('notes.jpg');
    await expect(dashboard.rejectedFiles.first()).toHaveAttribute('data-code', 'unsupported_format');
    await expect(dashboard.uploadSummary).toContainText('2 of 3 photos queued');

    const card = dashboard.jobCard(created.id);
    await expect(card.status).toHaveText('done', { timeout: 90_000 });
    const job = await waitForJob(request, created.id);
    const busCanvas = card.tile('bus.jpg').getByTestId('task-canvas');
    const boxes = () => JobCard.boxesDrawn(busCanvas);

    // Default score 0.5: what is drawn is exactly what the stored result has at >= 0.5.
    await expect(card.scoreValue).toHaveText('0.50');
    await expect.poll(boxes).toBe(visible(job, 'bus.jpg', 0.5));
    expect(visible(job, 'bus.jpg', 0.5)).toBeGreaterThan(0);
    await expect(busCanvas).toHaveAttribute('aria-label', /^bus\.jpg: .*bus \d\.\d\d/);

    // Slider down to its minimum with the keyboard (Home): 0.25.
    await card.scoreSlider.focus();
    await page.keyboard.press('Home');
    await expect(card.scoreValue).toHaveText('0.25');
    await expect.poll(boxes).toBe(visible(job, 'bus.jpg', 0.25));
    // Slider to 0.9: fewer boxes (bus.jpg has detections between 0.25 and 0.9).
    await card.scoreSlider.fill('0.9');
    await expect(card.scoreValue).toHaveText('0.90');
    await expect.poll(boxes).toBe(visible(job, 'bus.jpg', 0.9));
    expect(visible(job, 'bus.jpg', 0.9)).toBeLessThan(visible(job, 'bus.jpg', 0.25));
    await card.scoreSlider.fill('0.5');

    // Class toggle: persons off, then on again.
    await card.classToggle('person').uncheck();
    await expect.poll(boxes).toBe(visible(job, 'bus.jpg', 0.5, ['person']));
    expect(visible(job, 'bus.jpg', 0.5, ['person'])).toBeLessThan(visible(job, 'bus.jpg', 0.5));
    await card.classToggle('person').check();
    await expect.poll(boxes).toBe(visible(job, 'bus.jpg', 0.5));

    // Lightbox: opened from the tile, same boxes, closed with Escape.
    await card.tile('bus.jpg').getByTestId('open-lightbox').click();
    const lightbox = page.getByTestId('lightbox');
    await expect(lightbox).toBeVisible();
    await expect
      .poll(() => JobCard.boxesDrawn(page.getByTestId('lightbox-canvas')))
      .toBe(visible(job, 'bus.jpg', 0.5));
    await page.keyboard.press('Escape');
    await expect(lightbox).toHaveCount(0);

    // COCO export: the button downloads (with the key) a file that is valid COCO.
    const [download] = await Promise.all([page.waitForEvent('download'), card.exportButton('coco').click()]);
    expect(download.suggestedFilename()).toBe(`tabgrid-${created.id}-coco.json`);
    const file = path.join(testInfo.outputDir, download.suggestedFilename());
    await download.saveAs(file);
    const coco = CocoExportSchema.parse(JSON.parse(await readFile(file, 'utf8')));
    expect(coco.images.map((i) => i.file_name)).toEqual(['bus.jpg', 'dog.jpg']);
    expect(coco.categories).toHaveLength(80);
    expect(coco.annotations).toHaveLength(job.tasks.reduce((n, t) => n + t.detections.length, 0));
    const imageIds = new Set(coco.images.map((i) => i.id));
    const categoryIds = new Set(coco.categories.map((c) => c.id));
    for (const a of coco.annotations) {
      expect(imageIds.has(a.image_id) && categoryIds.has(a.category_id)).toBe(true);
      expect(a.bbox[2]).toBeGreaterThanOrEqual(0);
      expect(a.bbox[3]).toBeGreaterThanOrEqual(0);
    }
    expect(coco.annotations.some((a) => a.category_id === 6)).toBe(true); // COCO id 6 = bus

    // With results on screen: no serious axe violations, and no sideways scrolling on a phone.
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => dashboard.overflowsHorizontally()).toBe(false);
  } finally {
    await volunteer.close();
  }
});

test('a folder larger than one request becomes one job, sent in parts; cancel & delete from the list', async ({
  page,
  request,
}, testInfo) => {
  const me = (await (await request.get('/api/me', { headers: authHeaders() })).json()) as {
    limits: { maxFiles: number };
  };
  const count = me.limits.maxFiles + 3;
  const folder = testInfo.outputPath('photos');
  await mkdir(folder, { recursive: true });
  const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#3a6' } })
    .png()
    .toBuffer();
  for (let i = 0; i < count; i++)
    await writeFile(path.join(folder, `p${String(i).padStart(4, '0')}.png`), png);
  await writeFile(path.join(folder, 'readme.txt'), 'not a photo');

  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  const posts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST') posts.push(new URL(r.url()).pathname);
  });
  const created = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/jobs',
  );
  await dashboard.folderInput.setInputFiles(folder);
  const jobId = JobCreatedSchema.parse(await (await created).json()).id;
  await expect(dashboard.uploadSummary).toContainText(`${count} of ${count + 1} photos queued`);
  expect(posts).toEqual(['/api/jobs', `/api/jobs/${jobId}/images`]);
  await expect(dashboard.rejectedFiles).toHaveCount(1);
  await expect(dashboard.rejectedFiles.first()).toHaveAttribute('data-code', 'unsupported_format');
  const job = await getJob(request, jobId);
  expect(job.tasks).toHaveLength(count);
  expect(job.tasks.map((t) => t.name)).toEqual(
    Array.from({ length: count }, (_, i) => `p${String(i).padStart(4, '0')}.png`),
  );

  // Cancel & delete from the job list (nobody is online: its photos are still queued).
  const card = dashboard.jobCard(jobId);
  await expect(card.progress).toHaveText(`0/${count}`);
  page.once('dialog', (d) => void d.accept());
  await card.root.getByTestId('delete-job').click();
  await expect(card.root).toHaveCount(0);
  const list = (await (await request.get('/api/jobs?limit=100', { headers: authHeaders() })).json()) as {
    jobs: { id: string; deletedAt: number | null }[];
  };
  expect(list.jobs.find((j) => j.id === jobId)?.deletedAt).not.toBeNull();
});

test('an upload shows its progress and can be cancelled before anything is stored', async ({
  page,
  request,
}) => {
  const before = (await (await request.get('/api/jobs?limit=100', { headers: authHeaders() })).json()) as {
    jobs: unknown[];
  };
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  // Hold the request in the browser, as a slow connection would, until it is cancelled.
  let held = false;
  await page.route('**/api/jobs?partial=1*', async (route) => {
    held = true;
    await new Promise((r) => setTimeout(r, 15_000));
    await route.continue().catch(() => undefined);
  });
  await dashboard.fileInput.setInputFiles(sampleImage('dog.jpg'));
  const progress = page.getByTestId('upload-progress');
  await expect(progress).toContainText(/Uploading… \d+ %/);
  await expect(progress.getByRole('progressbar', { name: 'Upload progress' })).toBeVisible();
  await expect.poll(() => held).toBe(true);
  await progress.getByRole('button', { name: 'Cancel' }).click();
  await expect(dashboard.uploadSummary).toContainText('Upload cancelled; nothing was stored.');
  await expect(progress).toHaveCount(0);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  const after = (await (await request.get('/api/jobs?limit=100', { headers: authHeaders() })).json()) as {
    jobs: unknown[];
  };
  expect(after.jobs).toHaveLength(before.jobs.length);
});
