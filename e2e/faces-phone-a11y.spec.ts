/**
 * Phones and assistive tech (issue 9): at 390 px wide no page scrolls sideways,
 * and axe-core finds no serious or critical violation on /volunteer (before
 * consent, and working with a photo) and /live (with a result, light and dark).
 */
import { expect, test, type Page } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { VolunteerPage } from './pages/VolunteerPage';
import { createJobViaApi, waitForJob } from './support/api';
import { seriousAxeViolations } from './support/axe';
import { E2E_KEYS } from './support/keys';

const PHONE = { width: 390, height: 844 };

/** How far the page is wider than the viewport (0 = no sideways scroll). */
const overflowPx = (page: Page) =>
  page.evaluate(() => {
    const d = (
      globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
    ).document.documentElement;
    return d.scrollWidth - d.clientWidth;
  });

test('at 390 px no page scrolls sideways; axe finds nothing serious on /volunteer and /live', async ({
  browser,
  request,
}) => {
  test.setTimeout(200_000);
  // A volunteer at phone width, working: the photo with its boxes is on the page.
  const volunteer = await VolunteerPage.launch(browser, 'autostart=1', { consent: false });
  const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
  try {
    await volunteer.page.setViewportSize(PHONE);
    await expect(volunteer.consentPanel).toBeVisible();
    expect(await overflowPx(volunteer.page), '/volunteer before consent').toBe(0);
    expect(await seriousAxeViolations(volunteer.page), 'axe /volunteer (consent)').toEqual([]);

    await volunteer.startButton.click();
    await volunteer.waitReady();
    const job = await createJobViaApi(request, [sampleImage('bus.jpg')], { public: true });
    expect((await waitForJob(request, job.id)).status).toBe('done');
    await expect(volunteer.detectionLabels.first()).toBeVisible();
    await volunteer.page.getByText('Technical details').click();
    expect(await overflowPx(volunteer.page), '/volunteer working').toBe(0);
    expect(await seriousAxeViolations(volunteer.page), 'axe /volunteer (working)').toEqual([]);

    const page = await phone.newPage();
    await page.goto('/live');
    await expect(page.getByTestId('live-result').first()).toBeVisible();
    // On a phone the newest result comes before the charts.
    const resultTop = (await page.getByTestId('live-result').first().boundingBox())!.y;
    const chartTop = (await page.getByTestId('chart-results').boundingBox())!.y;
    expect(resultTop).toBeLessThan(chartTop);
    expect(await overflowPx(page), '/live').toBe(0);
    expect(await seriousAxeViolations(page), 'axe /live (light)').toEqual([]);
    await page.getByTestId('theme-toggle').click();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    expect(await seriousAxeViolations(page), 'axe /live (dark)').toEqual([]);

    await page.goto(`/#key=${E2E_KEYS.owner.key}`);
    await expect(page.getByTestId('drop-zone')).toBeVisible();
    expect(await overflowPx(page), '/dashboard').toBe(0);
  } finally {
    await volunteer.close();
    await phone.close();
  }
});
