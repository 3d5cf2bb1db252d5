/**
 * The live wall (issue 9): the charts grow with every pushed `live:stats` (no
 * polling: the page makes no HTTP request after loading), a new public result
 * arrives with its boxes, kiosk mode hides the navigation and defaults to the
 * dark theme, and none of it breaks the CSP (uPlot draws on canvas). The volunteer tab shows its
 * credits and the wall its leaderboard (issue 7 §4).
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { LivePage } from './pages/LivePage';
import { VolunteerPage, canvasHasContent } from './pages/VolunteerPage';
import { createJobViaApi } from './support/api';
import { recordCspViolations } from './support/csp';

const points = async (live: LivePage, testId: string) =>
  Number(await live.page.getByTestId(testId).getAttribute('data-points'));

test('the charts update from pushed figures and a public result animates in with its boxes', async ({
  browser,
  request,
}) => {
  test.setTimeout(180_000);
  const context = await browser.newContext();
  const violations = await recordCspViolations(context);
  const volunteer = await VolunteerPage.launch(browser);
  try {
    await volunteer.waitReady();
    const live = new LivePage(await context.newPage());
    await live.goto();
    const chart = live.page.getByTestId('chart-results');
    await expect(chart.locator('canvas')).toHaveCount(1);
    await expect(live.page.getByTestId('chart-latency').locator('canvas')).toHaveCount(1);

    // No polling: after the page has loaded, it makes no fetch/XHR request (images are <img>).
    const requests: string[] = [];
    live.page.on('request', (r) => {
      if (r.resourceType() === 'fetch' || r.resourceType() === 'xhr')
        requests.push(new URL(r.url()).pathname);
    });
    const before = await points(live, 'chart-results');
    await expect.poll(() => points(live, 'chart-results'), { timeout: 20_000 }).toBeGreaterThan(before + 2);
    await expect.poll(() => points(live, 'chart-volunteers')).toBeGreaterThan(before + 2);
    await expect(live.volunteersOnline).toHaveText(/^[1-9]\d*$/);

    const job = await createJobViaApi(request, [sampleImage('bus.jpg')], { public: true });
    const card = live.resultsFor('bus.jpg').first();
    await expect(card).toBeVisible({ timeout: 90_000 });
    await expect.poll(() => canvasHasContent(card.locator('canvas'))).toBe(true);
    await expect(card.getByTestId('detection-label').first()).toBeVisible();
    await expect
      .poll(async () => Number(await live.page.getByTestId('results-last-minute').textContent()))
      .toBeGreaterThanOrEqual(1);
    expect(job.id).toBeTruthy();
    expect(requests, 'the live page polls nothing').toEqual([]);

    // Credits (issue 7 §4): the tab shows its ledger totals, pushed by the server; /live ranks
    // volunteers by display name, never by id, with the same granted figure.
    const vp = volunteer.page;
    await expect
      .poll(async () => Number(await vp.getByTestId('credits-total-granted').textContent()), {
        timeout: 30_000,
      })
      .toBeGreaterThanOrEqual(10);
    await expect(vp.getByTestId('credits-total-pending')).toHaveText(/^\d+$/);
    await expect(vp.getByTestId('credits-explained')).toContainText('revoked');
    const probe = (await volunteer.probe())!;
    const board = live.page.getByTestId('leaderboard');
    await expect(board.locator('li').first()).toBeVisible({ timeout: 30_000 });
    const rows = await board.locator('li').allTextContents();
    expect(rows.length).toBeLessThanOrEqual(10);
    expect(rows.join('\n')).not.toContain(probe.volunteerId!);
    const credits = (row: string) => Number(/(\d+) credits$/.exec(row.trim())?.[1]);
    for (const row of rows) expect(credits(row), row).toBeGreaterThan(0);
    // Ours is listed unless ten others have more (the e2e server is shared by every spec).
    await expect
      .poll(async () => {
        const now = await board.locator('li').allTextContents();
        const mine = now.find((r) => r.trim().startsWith(`${probe.displayName!} `));
        const granted = Number(await vp.getByTestId('credits-total-granted').textContent());
        if (mine) return credits(mine) === granted;
        return now.length === 10 && now.every((r) => credits(r) >= granted);
      })
      .toBe(true);

    // Operator figures sit in a collapsed panel.
    const operator = live.page.getByTestId('operator-panel');
    await expect(operator.getByTestId('event-loop-lag-p99')).toBeHidden();
    await operator.locator('summary').click();
    await expect(operator.getByTestId('event-loop-lag-p99')).toBeVisible();
    expect(violations).toEqual([]);
  } finally {
    await volunteer.close();
    await context.close();
  }
});

test('kiosk mode hides the navigation and starts dark; the theme toggle persists', async ({ page }) => {
  await page.goto('/live?kiosk=1');
  await expect(page.getByTestId('live-connection')).toHaveText('connected');
  await expect(page.locator('nav.nav')).toBeHidden();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await page.goto('/live');
  await expect(page.locator('nav.nav')).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
});
