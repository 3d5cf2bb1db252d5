/**
 * Issue 20 in a real browser: a cancelled job's card stays with its state and the confirm says
 * what happens to the finished results; a volunteer's state survives a reload (paused until a
 * time, no second "Start").
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { DashboardPage } from './pages/DashboardPage';
import { VolunteerPage } from './pages/VolunteerPage';
import { createJobViaApi, getJob } from './support/api';

test('Cancel is not delete: the card stays, says it was cancelled, and the confirm says so', async ({
  page,
  request,
}) => {
  // Nobody volunteers here: the photos stay queued until cancelled.
  const job = await createJobViaApi(request, [sampleImage('bus.jpg'), sampleImage('dog.jpg')]);
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  const card = dashboard.jobCard(job.id);
  await expect(card.root).toBeVisible();
  let message = '';
  page.once('dialog', (d) => {
    message = d.message();
    void d.accept();
  });
  await card.root.getByTestId('cancel-job').click();
  await expect(card.root).toHaveAttribute('data-cancelled', 'true');
  expect(message).toMatch(/^Cancel this job\? .*finished results? stay here, viewable and exportable/);
  await expect(card.status).toHaveText('cancelled');
  await expect(card.root.getByTestId('job-cancelled')).toContainText('2 photos were not processed');
  await expect(card.root.getByTestId('cancel-job')).toHaveCount(0);
  expect((await getJob(request, job.id)).cancelledAt).toEqual(expect.any(Number));
  // Still there after a reload; Delete is its own step with its own words.
  await page.reload();
  await expect(dashboard.jobCard(job.id).status).toHaveText('cancelled');
  page.once('dialog', (d) => {
    message = d.message();
    void d.dismiss();
  });
  await dashboard.jobCard(job.id).root.getByTestId('delete-job').click();
  await expect.poll(() => message).toMatch(/^Delete this job\? .*can no longer be viewed or exported/);
  await expect(dashboard.jobCard(job.id).root).toBeVisible();
});

test('a reload keeps the volunteer as it was: paused until a time, running, no second Start', async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const volunteer = await VolunteerPage.launch(browser, '');
  try {
    await volunteer.startButton.click();
    await volunteer.waitReady();
    await volunteer.page.getByTestId('pause-hour-button').click();
    await expect(volunteer.plainStatus).toHaveText(/^Paused until /);
    await volunteer.page.reload(); // no ?autostart=1: it was running, so it runs again
    await expect(volunteer.plainStatus).toHaveText(/^Paused until /, { timeout: 75_000 });
    await expect(volunteer.startButton).toHaveCount(0);
    await expect(volunteer.resumeButton).toBeVisible();
    await volunteer.page.getByTestId('stop-button').click();
    await volunteer.page.reload();
    await volunteer.page.waitForTimeout(1500);
    await expect(volunteer.status).toHaveText('stopped');
    await expect(volunteer.startButton).toBeVisible();
  } finally {
    await volunteer.close();
  }
});
