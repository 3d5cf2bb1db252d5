/**
 * Issue 20's count goals, measured in a real browser (figures for docs/PERFORMANCE.md, not timed
 * assertions). Skipped unless TABGRID_MEASURE=1:
 *   TABGRID_MEASURE=1 npx playwright test e2e/faces-counts.spec.ts
 * On a server of its own with verification on (the shared e2e server runs without, see
 * playwright.config.ts) and COUNTS_TABS new volunteer tabs (each its own context: a new identity,
 * untrusted, so every result needs a second opinion and the server referee settles most):
 * (a) a folder of 40 varied photos (made at run time with sharp from the shared sample photos)
 *     uploaded on the dashboard; records how long they took, how each was settled (refereed,
 *     replicated) and the highest "Photos per minute" /live showed, beside the photos the server
 *     settled in the minute before that reading;
 * (b) every tab paused: what /live's "Able to take work" and the dashboard's banner say.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Browser } from '@playwright/test';
import sharp from 'sharp';
import { startServer, type Tabgrid } from '../apps/server/src/app';
import { DEFAULT_CONFIG } from '../apps/server/src/config';
import { imagesDir } from '../scripts/assets';
import { DashboardPage } from './pages/DashboardPage';
import { LivePage } from './pages/LivePage';
import { VolunteerPage } from './pages/VolunteerPage';
import { grantVolunteerConsent } from './support/consent';
import { E2E_KEYS, authHeaders } from './support/keys';

test.skip(process.env.TABGRID_MEASURE !== '1', 'measurement only: set TABGRID_MEASURE=1');

const ROOT = path.resolve(import.meta.dirname, '..');
const PHOTOS = 40;
const TABS = Number(process.env.COUNTS_TABS ?? 2);

let server: Tabgrid | undefined;
test.afterAll(async () => {
  await server?.close();
});

/** 40 different photos: crops, sizes, turns, mirrors and tones of the shared samples. */
async function variedPhotos(dir: string): Promise<string[]> {
  const sources = fs
    .readdirSync(imagesDir())
    .filter((n) => /\.(jpe?g|png)$/i.test(n))
    .sort();
  const out: string[] = [];
  for (let i = 0; i < PHOTOS; i++) {
    const src = path.join(imagesDir(), sources[i % sources.length]!);
    const meta = await sharp(src).metadata();
    const w = meta.width!;
    const h = meta.height!;
    const crop = 0.6 + ((i * 7) % 5) * 0.1; // 60-100 % of the photo
    const cw = Math.round(w * crop);
    const ch = Math.round(h * crop);
    let img = sharp(src)
      .extract({
        left: Math.round((w - cw) * ((i % 3) / 2)),
        top: Math.round((h - ch) * (((i >> 1) % 3) / 2)),
        width: cw,
        height: ch,
      })
      .resize({ width: 360 + ((i * 53) % 480) })
      .rotate(((i >> 2) % 4) * 90)
      .modulate({ brightness: 0.8 + ((i * 3) % 5) * 0.1, saturation: 0.7 + (i % 4) * 0.2 });
    if (i % 2) img = img.flop();
    const file = path.join(dir, `photo-${String(i + 1).padStart(2, '0')}.jpg`);
    await img.jpeg({ quality: 80 + (i % 15) }).toFile(file);
    out.push(file);
  }
  return out;
}

async function page(browser: Browser, url: string, consent = false) {
  const context = await browser.newContext({ baseURL: url });
  if (consent) await grantVolunteerConsent(context);
  return context.newPage();
}

test('measure: a 40-photo folder on /live with new tabs; every tab paused', async ({ browser }) => {
  test.setTimeout(15 * 60_000);
  fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  server = await startServer({
    ...DEFAULT_CONFIG,
    port: 0,
    host: '127.0.0.1',
    dataDir: fs.mkdtempSync(path.join(ROOT, '.tmp', 'e2e-counts-')),
    modelDir: path.join(ROOT, 'public/models'),
    staticDir: path.join(ROOT, process.env.TABGRID_STATIC_DIR ?? 'dist'),
    logLevel: 'warn',
    apiKeys: Object.values(E2E_KEYS).map((k) => ({ ...k })),
    maxVolunteersPerIp: 1000,
    newIdentitiesPerHour: 0,
    maxLivePerIp: 0,
    maxTasksPerIp: 0,
    verification: true,
    distinctNetworks: false, // every tab is on this one host
  });
  const url = server.url;
  const photos = await variedPhotos(fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-counts-')));

  const tabs: VolunteerPage[] = [];
  for (let i = 0; i < TABS; i++) {
    const tab = new VolunteerPage(await page(browser, url, true));
    await tab.goto('autostart=1');
    tabs.push(tab);
  }
  for (const tab of tabs) await tab.waitReady();
  const live = new LivePage(await page(browser, url));
  await live.goto();
  const dashboard = new DashboardPage(await page(browser, url));
  await dashboard.goto();

  // (a) The folder, then /live's figure every second until a minute after the last photo.
  const started = Date.now();
  const created = await dashboard.upload(photos);
  const readings: { at: number; perMinute: number }[] = [];
  let finishedAt: number | null = null;
  let job: {
    status: string;
    tasks: { status: string; verification: string | null; timings: { completedAt: number | null } }[];
  } | null = null;
  while (Date.now() - started < 5 * 60_000) {
    readings.push({
      at: Date.now(),
      perMinute: Number(await live.page.getByTestId('results-last-minute').textContent()),
    });
    if (finishedAt === null) {
      const res = await fetch(`${url}/api/jobs/${created.id}`, { headers: authHeaders() });
      job = (await res.json()) as typeof job;
      if (job!.status === 'done' || job!.status === 'failed') finishedAt = Date.now();
    } else if (Date.now() - finishedAt > 5000) break; // a few readings after the last photo
    await new Promise((r) => setTimeout(r, 1000));
  }
  const tookS = finishedAt === null ? null : (finishedAt - started) / 1000;
  const byHow: Record<string, number> = {};
  for (const t of job!.tasks)
    byHow[t.verification ?? t.status] = (byHow[t.verification ?? t.status] ?? 0) + 1;
  const peak = readings.reduce((a, b) => (b.perMinute > a.perMinute ? b : a));
  const settledInMinuteBefore = job!.tasks.filter(
    (t) =>
      t.timings.completedAt !== null &&
      t.timings.completedAt > peak.at - 60_000 &&
      t.timings.completedAt <= peak.at,
  ).length;

  // (b) Every tab paused.
  for (const tab of tabs) await tab.pauseButton.click();
  await expect(live.page.getByTestId('volunteers-ready')).toHaveText('0', { timeout: 15_000 });
  await expect(dashboard.queueBanner).toHaveAttribute('data-kind', 'none-ready', { timeout: 15_000 });
  const liveOnline = await live.volunteersOnline.textContent();
  const liveReady = await live.page.getByTestId('volunteers-ready').textContent();
  const banner = await dashboard.queueBanner.textContent();

  console.log(
    [
      `tabs: ${TABS} new; photos: ${PHOTOS} (made with sharp); load ${os.loadavg()[0]!.toFixed(1)}`,
      `(a) all ${PHOTOS} settled in ${tookS ?? 'more than 300'} s; settled by: ${JSON.stringify(byHow)}`,
      `    /live "Photos per minute": highest ${peak.perMinute}, ${((peak.at - started) / 1000).toFixed(0)} s after the upload; the server settled ${settledInMinuteBefore} in the minute before that reading`,
      `    readings (s after upload → per minute): ${readings.map((r) => `${((r.at - started) / 1000).toFixed(0)}→${r.perMinute}`).join(' ')}`,
      `(b) every tab paused: /live "Volunteers online" ${liveOnline}, "Able to take work" ${liveReady}; dashboard: "${banner}"`,
    ].join('\n'),
  );
  for (const tab of tabs) await tab.page.context().close();
});
