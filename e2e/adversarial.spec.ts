/**
 * The adversarial suite, short version for CI (the bench runs the long one: `npm run bench --
 * --only=adversarial`). A real server with verification on (its own, in this process, serving the
 * built web app); real honest agent processes, a Chromium tab volunteering as a person would, and
 * a liar process of every kind, among them a turncoat; photos varied at run time; ground truth
 * from the server-side reference. Asserts the outcomes that must hold, never a timing. No retry:
 * its last intermittent failure was a product bug (a turncoat's spot-checked lie dropped unjudged).
 *
 * The trust streak is shortened (3) and the spot-check floor raised (25 %) so the turncoat turns
 * and is caught within the run; the assignment cap (T4a) is shortened so stalled tasks come back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { REPO_ROOT, startTestServer, TEST_KEYS, type TestServer } from '../apps/server/test/support/harness';
import { CONSTANT_KINDS, type LiarKind } from '../bench/adversarial/kinds';
import { computeFigures, type AdversarialFigures } from '../bench/adversarial/report';
import { runSuite, type LiarSpec } from '../bench/adversarial/suite';
import { openVolunteerTab } from '../bench/adversarial/tab';

let server: TestServer | undefined;
const workDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-adversarial-'));
test.describe.configure({ retries: 0 });

test.afterAll(async () => {
  await server?.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** Liars whose lies are results (the others report failures or never answer). */
const RESULT_LIARS: readonly LiarKind[] = [
  'random',
  'empty',
  'copy',
  'replay',
  'unassigned',
  'impossible',
  'tamper',
];

test.describe('adversarial suite (CI scale)', () => {
  test('liars of every kind and a turncoat beside honest agents and a tab: no wrong result final, liars quarantined, honest ones not', async ({
    browser,
  }) => {
    test.setTimeout(600_000);
    let tabTasks = 0;
    server = await startTestServer({
      verification: true,
      distinctNetworks: false,
      trustStreak: 3,
      spotCheckPercent: 25,
      refereeAfterMs: 1000,
      refereeBudget: 20,
      maxAssignmentMs: 8000,
    });
    const liars: LiarSpec[] = [
      ...CONSTANT_KINDS.map((kind) => ({ kind })),
      { kind: 'takeover' },
      { kind: 'turncoat', lieRate: 0.5 },
    ];
    const observed = await runSuite({
      server: { url: server.url, dataDir: server.dataDir },
      apiKey: TEST_KEYS.owner.key,
      tasks: 40,
      maxTasks: 200,
      wave: 20,
      honestAgents: 3,
      liars,
      // A Chromium tab on /volunteer?autostart=1, consent given with "Start volunteering".
      extraHonest: async () => {
        const tab = await openVolunteerTab(browser, server!.url);
        return {
          stop: async () => {
            tabTasks = await tab.tasksDone().catch(() => 0);
            await tab.stop();
          },
        };
      },
      workDir,
      timeoutMs: 480_000,
      log: (line) => console.log(`${new Date().toISOString()} ${line}`),
    });
    const f: AdversarialFigures = computeFigures(observed);
    // The figures of the last CI-scale run, for a look after the fact (never committed: .tmp/).
    mkdirSync(path.join(REPO_ROOT, '.tmp'), { recursive: true });
    writeFileSync(path.join(REPO_ROOT, '.tmp', 'adversarial-ci.json'), `${JSON.stringify(f, null, 2)}\n`);
    const context = JSON.stringify(
      { ...f, liars: f.liars.map((l) => ({ ...l, volunteerId: undefined })) },
      null,
      1,
    );

    expect(f.tasks.total, context).toBeGreaterThanOrEqual(40);
    expect(f.tasks.failed, context).toBe(0);
    expect(f.wrongFinalAtEnd.count, context).toBe(0);
    expect(f.wrongEverShownFinal.constant, context).toBe(0);
    for (const l of f.liars.filter((l) => RESULT_LIARS.includes(l.kind))) {
      expect(l.tasksAnswered, `${l.name} answered nothing\n${context}`).toBeGreaterThan(0);
      expect(l.quarantined, `${l.name} not quarantined\n${context}`).toBe(true);
      // Not asserted: "within its first 3 results" (a goal measured by the bench, docs/SECURITY.md).
      // The cap on unverified work gets it there: 3 at most in every run since a trusted
      // replica no longer drops a waiting result unjudged (9deab22).
    }
    const turncoat = f.liars.find((l) => l.kind === 'turncoat')!;
    expect(turncoat.afterTurn, context).not.toBeNull();
    expect(turncoat.quarantined, context).toBe(true);
    expect(f.honest.identities, context).toBe(4); // 3 agents and the tab
    expect(tabTasks, `the tab did no task\n${context}`).toBeGreaterThan(0);
    expect(f.honest.quarantined, context).toBe(0);
    // Protocol-level attacks were refused, and never counted.
    expect(f.takeover.accepted, context).toBe(0);
    expect(f.takeover.refusals.identity_rejected ?? 0, context).toBeGreaterThan(0);
    const unassigned = f.liars.find((l) => l.kind === 'unassigned')!;
    expect(unassigned.answers.not_holder ?? 0, context).toBeGreaterThan(0);
    const replay = f.liars.find((l) => l.kind === 'replay')!;
    expect((replay.answers.duplicate ?? 0) + (replay.answers.not_holder ?? 0), context).toBeGreaterThan(0);
  });
});
