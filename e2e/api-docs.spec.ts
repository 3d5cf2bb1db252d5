/**
 * The interactive API reference (issue 19): `/api/docs` (Swagger UI) renders every operation of
 * `/api/openapi.json` in a real browser, without a key, under the server's CSP (no violation),
 * with every file from this origin (no CDN), and "Try it out" sends the Bearer key it is given.
 */
import { expect, test } from '@playwright/test';
import { recordCspViolations } from './support/csp';
import { E2E_KEYS } from './support/keys';

test('the API reference renders every operation under the CSP, from this origin only', async ({
  browser,
  baseURL,
}) => {
  const context = await browser.newContext();
  const violations = await recordCspViolations(context);
  const page = await context.newPage();
  const foreign: string[] = [];
  const failed: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).origin !== baseURL && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('pageerror', (e) => failed.push(`page error: ${e.message}`));
  try {
    const document = (await (await page.request.get('/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);

    const navigation = await page.goto('/api/docs');
    expect(navigation!.status()).toBe(200);
    expect(navigation!.headers()['content-security-policy']).toContain(
      "script-src 'self' 'wasm-unsafe-eval'",
    );
    await expect(page.locator('.opblock')).toHaveCount(operations);
    await expect(page.locator('.opblock-summary-path').first()).toBeVisible();

    // Authorize with the key, then call GET /api/me from the page.
    await page
      .getByRole('button', { name: /authorize/i })
      .first()
      .click();
    await page.locator('.auth-container input').first().fill(E2E_KEYS.owner.key);
    await page.locator('.auth-btn-wrapper button.authorize').click();
    await page.locator('.btn-done').click();
    const me = page.locator('#operations-requester-getMe');
    await me.locator('.opblock-summary').click();
    await me.getByRole('button', { name: 'Try it out' }).click();
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/me'));
    await me.getByRole('button', { name: 'Execute' }).click();
    expect((await answer).status()).toBe(200);
    await expect(me.locator('.response .microlight, .response pre').first()).toContainText(
      E2E_KEYS.owner.name,
    );

    expect(violations).toEqual([]);
    expect(foreign).toEqual([]);
    expect(failed).toEqual([]);
  } finally {
    await context.close();
  }
});
