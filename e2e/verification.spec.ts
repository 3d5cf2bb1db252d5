/**
 * A real browser tab volunteering with verification ON (PROTOCOL.md V1–V8), on a server of its
 * own (the shared e2e server runs with verification off, see playwright.config.ts): alone, the
 * tab's result becomes final through the server referee; beside a headless agent, each result is
 * replicated by the other volunteer. The dashboard shows each task's verification and how many
 * results agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Browser } from '@playwright/test';
import { startAgent, type Agent } from '../apps/agent/src/agent';
import { startServer, type Tabgrid } from '../apps/server/src/app';
import { DEFAULT_CONFIG } from '../apps/server/src/config';
import { sampleImage } from '../scripts/assets';
import { DashboardPage } from './pages/DashboardPage';
import { VolunteerPage } from './pages/VolunteerPage';
import { grantVolunteerConsent } from './support/consent';
import { E2E_KEYS } from './support/keys';

const ROOT = path.resolve(import.meta.dirname, '..');
let server: Tabgrid | undefined;
let agent: Agent | undefined;

test.afterAll(async () => {
  await agent?.stop();
  await server?.close();
});

/** A tab on this spec's own server (its own context: its own identity). */
async function volunteerTab(browser: Browser, baseURL: string): Promise<VolunteerPage> {
  const context = await browser.newContext({ baseURL });
  await grantVolunteerConsent(context);
  const tab = new VolunteerPage(await context.newPage());
  await tab.goto();
  return tab;
}

test('verification on: a lone tab is refereed, a tab beside a headless agent is replicated; the dashboard says so', async ({
  browser,
}) => {
  test.setTimeout(240_000);
  fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(ROOT, '.tmp', 'e2e-verification-'));
  server = await startServer({
    ...DEFAULT_CONFIG,
    port: 0,
    host: '127.0.0.1',
    dataDir,
    modelDir: path.join(ROOT, 'public/models'),
    staticDir: path.join(ROOT, 'dist'),
    logLevel: 'warn',
    apiKeys: Object.values(E2E_KEYS).map((k) => ({ ...k })),
    maxVolunteersPerIp: 1000,
    newIdentitiesPerHour: 0,
    maxLivePerIp: 0,
    maxTasksPerIp: 0,
    verification: true,
    // One host: the tab and the agent share a network.
    distinctNetworks: false,
    // Long enough that the second volunteer's replica comes first, short enough for a lone tab.
    refereeAfterMs: 6000,
  });
  const url = server.url;

  const tab = await volunteerTab(browser, url);
  await tab.waitReady();
  const dashboardContext = await browser.newContext({ baseURL: url });
  const dashboard = new DashboardPage(await dashboardContext.newPage());
  await dashboard.goto();

  // Alone: no one else could replicate the tab's result, so the referee verifies it at once (V5).
  const lone = await dashboard.upload(sampleImage('bus.jpg'));
  const loneCard = dashboard.jobCard(lone.id);
  await expect(loneCard.status).toHaveText('done', { timeout: 90_000 });
  const refereed = loneCard.verification('bus.jpg');
  await expect(refereed).toHaveAttribute('data-verification', 'refereed');
  await expect(refereed).toHaveAttribute('data-agreeing', '2');
  await expect(refereed).toHaveText('verified by the server (2 agreeing)');
  expect(await tab.tasksDoneCount()).toBeGreaterThanOrEqual(1);

  // Beside a headless agent: each result is final once the other volunteer agrees.
  agent = startAgent({ server: url, threads: 1, socketOptions: { transports: ['websocket'] } });
  await new Promise<void>((resolve, reject) => {
    agent!.on('ready', () => resolve());
    agent!.on('fatal', reject);
  });
  const doneBefore = await tab.tasksDoneCount();
  const pair = await dashboard.upload([sampleImage('dog.jpg'), sampleImage('person.jpg')]);
  const pairCard = dashboard.jobCard(pair.id);
  await expect(pairCard.status).toHaveText('done', { timeout: 90_000 });
  for (const name of ['dog.jpg', 'person.jpg']) {
    const line = pairCard.verification(name);
    await expect(line, name).toHaveAttribute('data-verification', 'replicated');
    await expect(line, name).toHaveAttribute('data-agreeing', '2');
  }
  // Both volunteers ran both photos (a replica always goes to the other one).
  await expect.poll(() => tab.tasksDoneCount()).toBeGreaterThanOrEqual(doneBefore + 2);
});
