/**
 * The CPU budget, measured (issue 20). Not an assertion: figures for docs/PERFORMANCE.md.
 * Skipped unless TABGRID_MEASURE=1:
 *   TABGRID_MEASURE=1 npx playwright test e2e/cpu-budget.spec.ts
 * One volunteer tab with one inference worker runs a queue of photos at "use up to" 100, 75, 50
 * and 25 % for MEASURE_MS each. The tab's busy share is its workers' own busy time (each
 * inference call, decode and transfer included) per wall time, as the page measures it
 * ("Technical details", `window.__tabgrid.busyShare`, last minute); the inference-only share
 * (what the duty cycle used to count as busy) is shown beside it.
 */
import { expect, test } from '@playwright/test';
import { sampleImage } from '../scripts/assets';
import { VolunteerPage } from './pages/VolunteerPage';
import { createJobViaApi } from './support/api';
import { authHeaders } from './support/keys';

test.skip(process.env.TABGRID_MEASURE !== '1', 'measurement only: set TABGRID_MEASURE=1');

const MEASURE_MS = Number(process.env.TABGRID_CPU_MEASURE_MS ?? 40_000);
const PHOTOS = ['bus.jpg', 'dog.jpg', 'person.jpg', '000004.jpg'].map((n) => sampleImage(n));

interface Probe {
  tasksDone: number;
  inferenceSamplesMs: number[];
  busyShare: number | null;
}

test('measure: busy share at 100 / 75 / 50 / 25 %', async ({ browser, request }) => {
  test.setTimeout(20 * 60_000);
  const rows: string[] = [];
  for (const duty of [100, 75, 50, 25]) {
    const v = await VolunteerPage.launch(browser, 'autostart=1&workers=1');
    try {
      await v.waitReady();
      await v.dutySelect.selectOption(String(duty));
      // Enough photos to keep the tab busy for the whole window.
      const job = await createJobViaApi(
        request,
        Array.from({ length: 60 }, (_, i) => PHOTOS[i % PHOTOS.length]!),
      );
      await expect.poll(() => v.tasksDoneCount(), { timeout: 60_000 }).toBeGreaterThan(0);
      const read = () =>
        v.page.evaluate(() => {
          const p = (globalThis as unknown as { __tabgrid: Probe }).__tabgrid;
          return {
            tasksDone: p.tasksDone,
            inferenceSamplesMs: [...p.inferenceSamplesMs],
            busyShare: p.busyShare,
          };
        });
      const before = await read();
      const t0 = Date.now();
      await v.page.waitForTimeout(MEASURE_MS);
      const after = await read();
      const wall = Date.now() - t0;
      const done = after.tasksDone - before.tasksDone;
      const inference = after.inferenceSamplesMs.slice(-done).reduce((a, b) => a + b, 0);
      rows.push(
        `| ${duty} % | ${after.busyShare === null ? '—' : Math.round(after.busyShare * 100)} % | ` +
          `${Math.round((inference / wall) * 100)} % | ${done} | ${(wall / 1000).toFixed(0)} s |`,
      );
      await request.post(`/api/jobs/${job.id}/cancel`, { headers: authHeaders() });
    } finally {
      await v.close();
    }
  }
  console.log(
    [
      '| setting | busy share (page, last minute) | inference-only share | photos | window |',
      '|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
});
