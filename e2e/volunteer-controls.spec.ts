/**
 * The volunteer page's consent and controls (issue 9): nothing runs before
 * consent; "Start volunteering" gives it once per device, after which
 * `?autostart=1` starts by itself; a paused volunteer is offered no task and
 * takes the waiting one when resumed; the CPU budget persists and reshapes the pool.
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { VolunteerPage } from './pages/VolunteerPage';
import { createJobViaApi, getJob, waitForJob } from './support/api';

test('consent first: autostart waits for "Start volunteering", then starts by itself on later visits', async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const volunteer = await VolunteerPage.launch(browser, 'autostart=1', { consent: false });
  try {
    await expect(volunteer.consentPanel).toBeVisible();
    await expect(volunteer.consentPanel).toContainText('you will see the photos you process');
    // Give a wrongly eager autostart the time to show itself (it would be "connecting" within ms).
    await volunteer.page.waitForTimeout(1500);
    await expect(volunteer.status).toHaveText('stopped');
    expect(await volunteer.page.title()).toBe('Tabgrid volunteer');

    await volunteer.startButton.click();
    await volunteer.waitReady();
    await expect(volunteer.consentPanel).toBeHidden();
    await expect(volunteer.page).toHaveTitle(/Idle|Working/);
    const icon = volunteer.page.locator('link[rel="icon"]');
    await expect(icon).toHaveAttribute('data-state', /idle|working/);
    await expect(icon).toHaveAttribute('href', /^data:image\/svg\+xml,/);

    // Consent is remembered on this device: autostart now starts without a click.
    await volunteer.page.reload();
    await expect(volunteer.consentPanel).toBeHidden();
    await volunteer.waitReady();
  } finally {
    await volunteer.close();
  }
});

test('a paused volunteer gets no task, takes it when resumed; the CPU budget persists', async ({
  browser,
  request,
}) => {
  test.setTimeout(200_000);
  const volunteer = await VolunteerPage.launch(browser);
  try {
    await volunteer.waitReady();
    await volunteer.pauseButton.click();
    await expect(volunteer.status).toHaveText('paused');
    await expect(volunteer.plainStatus).toHaveText('Paused by you.');
    await expect(volunteer.page).toHaveTitle(/Paused/);

    // The only volunteer online is paused: the job must wait.
    const job = await createJobViaApi(request, [sampleImage('bus.jpg')]);
    await volunteer.page.waitForTimeout(4000);
    expect((await getJob(request, job.id)).status, 'no task while paused').toBe('queued');
    expect(await volunteer.tasksDoneCount()).toBe(0);

    // The pause survives a reload (settings persist), then Resume takes the waiting task.
    await volunteer.page.reload();
    await expect(volunteer.modelSource).toHaveText(/^(network|cache)$/, { timeout: 75_000 });
    await expect(volunteer.status).toHaveText('paused');
    await volunteer.resumeButton.click();
    expect((await waitForJob(request, job.id)).status).toBe('done');
    await expect(volunteer.tallyToday).toHaveText('1');
    await expect(volunteer.tallyTotal).toHaveText('1');

    // CPU budget: one worker at 50 %; the pool is rebuilt with one worker, and both persist.
    await volunteer.workersSelect.selectOption('1');
    await volunteer.dutySelect.selectOption('50');
    await expect.poll(async () => (await volunteer.probe())?.workers, { timeout: 75_000 }).toBe(1);
    await volunteer.waitReady();
    await volunteer.page.reload();
    await expect(volunteer.workersSelect).toHaveValue('1');
    await expect(volunteer.dutySelect).toHaveValue('50');
    const again = await volunteer.waitReady();
    expect(again.workers).toBe(1);
    // The tally is kept across visits; the count of this visit starts again.
    await expect(volunteer.tallyTotal).toHaveText('1');
  } finally {
    await volunteer.close();
  }
});
