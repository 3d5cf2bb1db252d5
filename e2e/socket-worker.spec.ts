/**
 * The volunteer's socket, acks, heartbeats and reports run in a worker, not on
 * the page's main thread (issue 7 §1): while the page's main thread is blocked
 * solid (as a frozen or throttled hidden tab would be), the tab still takes a
 * task, acks it, runs it and reports the result. With the protocol client on
 * the main thread, the offer's 1 s ack timeout would lapse every time.
 * Also: the identity the server issued survives a reload (IndexedDB, rule I2).
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { VolunteerPage } from './pages/VolunteerPage';
import { createJobViaApi, getJob } from './support/api';

const BLOCK_MS = 20_000;

test('a tab whose main thread is blocked still completes a task; its identity survives a reload', async ({
  browser,
  request,
}) => {
  test.setTimeout(150_000);
  const volunteer = await VolunteerPage.launch(browser);
  try {
    const ready = await volunteer.waitReady();
    expect(ready.displayName).toMatch(/^[a-z]+-[a-z]+-\d+$/);

    // Block the page's main thread; the test keeps talking to the server through the API.
    const blocked = volunteer.page.evaluate((ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        /* busy: no timers, no messages, no rendering on this thread */
      }
      return Date.now();
    }, BLOCK_MS);
    const startedAt = Date.now();
    const job = await createJobViaApi(request, [sampleImage('bus.jpg')]);
    let view = await getJob(request, job.id);
    while (view.status !== 'done' && Date.now() - startedAt < BLOCK_MS - 2000) {
      await new Promise((r) => setTimeout(r, 250));
      view = await getJob(request, job.id);
    }
    const doneAt = Date.now();
    const unblockedAt = await blocked;
    expect(view.status, 'done while the main thread was blocked').toBe('done');
    expect(doneAt).toBeLessThan(unblockedAt);
    expect(view.tasks[0]!.attempts, 'the first offer was acked in time').toBe(1);

    // Same volunteer after a reload: the worker presents the stored id + token.
    await volunteer.page.reload();
    const again = await volunteer.waitReady();
    expect(again.volunteerId).toBe(ready.volunteerId);
    expect(again.displayName).toBe(ready.displayName);
  } finally {
    await volunteer.close();
  }
});
