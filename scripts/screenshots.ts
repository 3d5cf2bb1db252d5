/**
 * Regenerates the README's screenshots (`npm run screenshots`): the real server
 * (fresh data directory, free port), a real Chromium volunteer with the real
 * model, and the three pages in a known state:
 * - dashboard: signed in, three public photos uploaded and detected;
 * - volunteer: consent given, the last of those photos on screen with its boxes;
 * - live: those results and the charts; plus the kiosk wall in the dark theme.
 * Each page at desktop (1280×800) and phone (390×844) size, written to
 * docs/screenshots/ as palette PNGs (sharp) so each stays small (≤ 150 KB).
 * Needs `vite build` first (the npm script does it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import sharp from 'sharp';
import { BENCH_KEY } from '../bench/lib/bench-key';
import { startBenchServer } from '../bench/lib/server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/support/chromium';
import { grantVolunteerConsent } from '../e2e/support/consent';
import { REPO_ROOT, sampleImage } from './assets';

/** The bits of the volunteer page's `window.__tabgrid` probe read here (code below runs in the page). */
declare const document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
declare const window: {
  __tabgrid?: { modelSource: string | null; tasksDone: number };
  scrollTo(x: number, y: number): void;
};

const OUT = path.join(REPO_ROOT, 'docs', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PHOTOS = ['bus.jpg', 'dog.jpg', 'person.jpg'];
const MAX_BYTES = 150 * 1024;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });

async function shoot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ animations: 'disabled' });
  // Fewer palette colours until it fits; photos make dithering noise that compresses badly.
  let out = png;
  for (const colours of [128, 64, 32, 16]) {
    out = await sharp(png)
      .png({ palette: true, colours, dither: colours >= 128 ? 1 : 0, compressionLevel: 9, effort: 10 })
      .toBuffer();
    if (out.length <= MAX_BYTES) break;
  }
  writeFileSync(path.join(OUT, `${name}.png`), out);
  console.log(
    `${name}.png  ${(out.length / 1024).toFixed(0)} KB${out.length > MAX_BYTES ? '  (over 150 KB)' : ''}`,
  );
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const server = await startBenchServer({ port: await freePort() });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    // The volunteer: consent given on this "device", then it starts and loads the model.
    const volunteerContext = await browser.newContext({ viewport: DESKTOP });
    await grantVolunteerConsent(volunteerContext);
    const volunteer = await volunteerContext.newPage();
    await volunteer.goto(`${server.url}/volunteer?autostart=1`);
    await volunteer.waitForFunction(() => window.__tabgrid?.modelSource != null, undefined, {
      timeout: 120_000,
    });

    // The requester: signed in with the key, uploads public photos on the dashboard.
    const owner = await browser.newContext({ viewport: DESKTOP });
    const dashboard = await owner.newPage();
    await dashboard.goto(`${server.url}/#key=${BENCH_KEY.key}`);
    await dashboard.getByTestId('public-checkbox').check();
    for (const photo of PHOTOS) {
      const before = await volunteer.evaluate(() => window.__tabgrid?.tasksDone ?? 0);
      await dashboard.getByTestId('file-input').setInputFiles(sampleImage(photo));
      await volunteer.waitForFunction((n) => (window.__tabgrid?.tasksDone ?? 0) > n, before, {
        timeout: 120_000,
      });
    }
    // Every job final (verified: a lone volunteer's results are refereed after a short wait).
    await dashboard.waitForFunction(
      (n) =>
        Array.from(document.querySelectorAll('[data-testid="job-card"] [data-testid="job-status"]')).filter(
          (e) => e.textContent === 'done',
        ).length >= n,
      PHOTOS.length,
      { timeout: 120_000 },
    );
    await dashboard.waitForTimeout(1500); // images settle
    await dashboard.evaluate(() => window.scrollTo(0, 0));
    await shoot(dashboard, 'dashboard-desktop');
    await dashboard.setViewportSize(PHONE);
    await dashboard.waitForTimeout(300);
    await shoot(dashboard, 'dashboard-phone');

    await volunteer.waitForTimeout(500);
    await shoot(volunteer, 'volunteer-desktop');
    await volunteer.setViewportSize(PHONE);
    await volunteer.waitForTimeout(300);
    await shoot(volunteer, 'volunteer-phone');

    // The live wall, as the public sees it; the charts get a few seconds of points.
    const viewer = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
    const live = await viewer.newPage();
    await live.goto(`${server.url}/live`);
    await live
      .getByTestId('live-result')
      .nth(PHOTOS.length - 1)
      .waitFor({ timeout: 30_000 });
    await live.waitForTimeout(5000);
    await shoot(live, 'live-desktop');
    await live.setViewportSize(PHONE);
    await live.waitForTimeout(300);
    await shoot(live, 'live-phone');
    await live.setViewportSize(DESKTOP);
    await live.goto(`${server.url}/live?kiosk=1`);
    await live
      .getByTestId('live-result')
      .nth(PHOTOS.length - 1)
      .waitFor({ timeout: 30_000 });
    await live.waitForTimeout(3000);
    await shoot(live, 'live-kiosk-dark');
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
