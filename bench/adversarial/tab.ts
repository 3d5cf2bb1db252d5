/**
 * A real browser volunteer: a Chromium tab on `/volunteer?autostart=1` that gives consent with
 * the "Start volunteering" button, as a person would, and runs until closed.
 */
import type { Browser, BrowserContext } from '@playwright/test';

declare const window: { __tabgrid?: { modelLoadMs: number | null; tasksDone: number } };

export interface VolunteerTab {
  context: BrowserContext;
  tasksDone(): Promise<number>;
  stop(): Promise<void>;
}

export async function openVolunteerTab(browser: Browser, server: string): Promise<VolunteerTab> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${server}/volunteer?autostart=1&threads=1`);
    const consent = page.getByRole('button', { name: 'Start volunteering' });
    // Autostart waits for consent given once on this device: give it.
    await consent.click({ timeout: 30_000 });
    await page
      .waitForFunction(() => window.__tabgrid?.modelLoadMs != null, undefined, { timeout: 180_000 })
      .catch(async (err: unknown) => {
        const state = await page.evaluate(() => JSON.stringify(window.__tabgrid ?? null)).catch(() => '?');
        throw new Error(`the volunteer tab never loaded the model; probe: ${state}`, { cause: err });
      });
    return {
      context,
      tasksDone: () => page.evaluate(() => window.__tabgrid?.tasksDone ?? 0),
      stop: () => context.close(),
    };
  } catch (err) {
    await context.close();
    throw err;
  }
}
