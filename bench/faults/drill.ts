/**
 * Dependency-fault drill (issue 11), for docs/RELIABILITY.md: the real server
 * as a child process with its default settings (busy timeout 5 s, health probe
 * every 1 s), four scripted volunteers on real sockets that resend a result
 * refused with `storage_unavailable` (PROTOCOL.md T11), and uploads retried
 * after `Retry-After` like a well-behaved client. Each scenario reports what
 * the server answered, what was lost and how long recovery took.
 *
 *   npx tsx bench/faults/drill.ts [--runs 3]
 *
 * Scenarios: `lock` (another process holds BEGIN EXCLUSIVE for 12 s during a
 * batch), `full` (the data volume, a 48 MiB tmpfs, is filled up during a
 * batch; needs root), `low-space` (free space under TABGRID_MIN_FREE_BYTES).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { JobViewSchema, type TaskAssignment } from '@tabgrid/protocol';
import { batchPhotos, uploadPhotos, type Photo } from '../../apps/server/test/faults/batch';
import { FakeVolunteer } from '../../apps/server/test/support/fake-volunteer';
import { bearer, sleep } from '../../apps/server/test/support/harness';
import {
  freePort,
  killAll,
  readDb,
  spawnTs,
  startServerProcess,
  tmpDir,
  type Child,
} from '../../apps/server/test/support/processes';
import { fillDisk, listFiles, mountTmpfs } from '../../apps/server/test/support/tmpfs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, only: { type: 'string' }, verbose: { type: 'boolean' } },
});
const RUNS = Number(values.runs);

interface Outcome {
  scenario: string;
  run: number;
  serverDied: boolean;
  /** HTTP status -> count, for uploads made while the fault lasted. */
  uploadsDuringFault: Record<string, number>;
  slowestRefusalMs: number;
  resultsRefused: number;
  acceptedTasks: number;
  tasksDone: number;
  /** Accepted tasks not done at the end (goal: 0). */
  lost: number;
  /** Tasks stored twice (goal: 0; results are idempotent). */
  doubled: number;
  partialFiles: number;
  /** Fault cleared -> /healthz 200. */
  healthyAfterMs: number;
  /** Fault cleared -> an upload accepted again. */
  uploadsBackAfterMs: number;
  /** Fault cleared -> every accepted task done. */
  allDoneAfterMs: number;
}

/** A volunteer that answers after 0.6 s and resends a result the server could not store. */
async function resendingVolunteer(
  url: string,
  id: string,
  counters: { refused: number },
): Promise<FakeVolunteer> {
  const v = await FakeVolunteer.connect(url, { id, behaviour: 'ack-then-silent', reconnection: true });
  v.socket.on('task:assign', (task: TaskAssignment) => {
    // ~0.6 s per task: the first batch (20 tasks, 4 volunteers) is still running when the fault starts.
    setTimeout(() => void resend(v, task, counters), 600);
  });
  return v;
}

async function resend(v: FakeVolunteer, task: TaskAssignment, counters: { refused: number }): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (v.cancelled.includes(task.assignmentId)) return; // the server took it back
    const ack = (await v.answer(task).catch(() => null)) as { ok: boolean; code?: string } | null;
    if (ack?.ok || (ack && ack.code !== 'storage_unavailable')) return;
    // FakeVolunteer.answer forgets the lease; a resending client keeps heartbeating it meanwhile.
    v.held.add(task.assignmentId);
    if (ack) counters.refused++;
    await sleep(1000);
  }
}

async function healthyAfter(url: string, since: number): Promise<number> {
  for (;;) {
    const res = await fetch(`${url}/healthz`).catch(() => null);
    if (res?.status === 200) return performance.now() - since;
    await sleep(50);
  }
}

/** Uploads with retries after Retry-After (or 1 s); returns the job id and when it was accepted. */
async function uploadUntilAccepted(url: string, photos: Photo[]): Promise<{ id: string; at: number }> {
  for (;;) {
    const r = await uploadPhotos(url, photos).catch(() => null);
    if (r?.job) return { id: r.job.id, at: performance.now() };
    await sleep(1000);
  }
}

async function finish(
  url: string,
  dataDir: string,
  server: Child,
  jobIds: string[],
  clearedAt: number,
): Promise<Pick<Outcome, 'acceptedTasks' | 'tasksDone' | 'lost' | 'doubled' | 'allDoneAfterMs'>> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const views = await Promise.all(
      jobIds.map(async (id) =>
        JobViewSchema.parse(await (await fetch(`${url}/api/jobs/${id}`, { headers: bearer() })).json()),
      ),
    );
    if (views.every((j) => j.status === 'done' || j.status === 'failed') || Date.now() > deadline) break;
    if (!server.alive) break;
    await sleep(100);
  }
  const views = await Promise.all(
    jobIds.map(async (id) =>
      JobViewSchema.parse(await (await fetch(`${url}/api/jobs/${id}`, { headers: bearer() })).json()),
    ),
  );
  const allDoneAfterMs = performance.now() - clearedAt;
  const tasks = views.flatMap((j) => j.tasks);
  const doubled = readDb(
    dataDir,
    (db) =>
      (
        db
          .prepare(
            "SELECT COUNT(*) AS n FROM (SELECT task_id FROM assignments WHERE status = 'completed' GROUP BY task_id HAVING COUNT(*) > 1)",
          )
          .get() as { n: number }
      ).n,
  );
  const done = tasks.filter((t) => t.status === 'done').length;
  if (values.verbose) {
    console.log(
      readDb(dataDir, (db) =>
        db.prepare('SELECT status, outcome, COUNT(*) AS n FROM assignments GROUP BY status, outcome').all(),
      ),
    );
    const slow = tasks.filter((t) => (t.timings.completedAt ?? 0) - (t.timings.assignedAt ?? 0) > 2000);
    console.log(JSON.stringify(slow.map((t) => ({ attempts: t.attempts, ...t.timings }))));
  }
  return { acceptedTasks: tasks.length, tasksDone: done, lost: tasks.length - done, doubled, allDoneAfterMs };
}

async function scenario(
  name: string,
  run: number,
  dataDir: string,
  env: Record<string, string>,
  fault: {
    start(url: string): Promise<void>;
    clear(): Promise<void>;
  },
): Promise<Outcome> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(`server-${name}`, {
    port,
    dataDir,
    env: { LOG_LEVEL: 'error', ...env },
  });
  const counters = { refused: 0 };
  const volunteers = await Promise.all(
    [1, 2, 3, 4].map((i) => resendingVolunteer(url, `drill-${name}-${i}`, counters)),
  );
  const photos = await batchPhotos(20);
  const jobs: string[] = [(await uploadUntilAccepted(url, photos)).id];
  await sleep(500); // the batch is running
  await fault.start(url);
  const during: Record<string, number> = {};
  let slowest = 0;
  const refusedBatches: Photo[][] = [];
  for (let i = 0; i < 10; i++) {
    const batch = photos.slice(i * 2, i * 2 + 2);
    const t0 = performance.now();
    const r = await uploadPhotos(url, batch).catch((err: unknown) => {
      if (values.verbose) console.log('upload failed:', err, (err as { cause?: unknown }).cause);
      return { status: 0, job: null, body: '' };
    });
    const ms = performance.now() - t0;
    during[r.status] = (during[r.status] ?? 0) + 1;
    if (r.job) jobs.push(r.job.id);
    else {
      slowest = Math.max(slowest, ms);
      refusedBatches.push(batch);
    }
    await sleep(200);
  }
  const partialFiles = listFiles(path.join(dataDir, 'images')).filter((f) => f.endsWith('.tmp')).length;
  await fault.clear();
  const clearedAt = performance.now();
  const healthyAfterMs = await healthyAfter(url, clearedAt);
  let uploadsBackAfterMs = -1;
  for (const batch of refusedBatches) {
    const accepted = await uploadUntilAccepted(url, batch);
    if (uploadsBackAfterMs < 0) uploadsBackAfterMs = accepted.at - clearedAt;
    jobs.push(accepted.id);
  }
  const end = await finish(url, dataDir, server, jobs, clearedAt);
  const serverDied = !server.alive;
  if (values.verbose) console.log(server.output());
  for (const v of volunteers) v.close();
  await server.kill('SIGTERM');
  return {
    scenario: name,
    run,
    serverDied,
    uploadsDuringFault: during,
    slowestRefusalMs: Math.round(slowest),
    resultsRefused: counters.refused,
    partialFiles,
    healthyAfterMs: Math.round(healthyAfterMs),
    uploadsBackAfterMs: Math.round(uploadsBackAfterMs),
    ...end,
    allDoneAfterMs: Math.round(end.allDoneAfterMs),
  };
}

async function lockRun(run: number): Promise<Outcome> {
  const dataDir = tmpDir('tabgrid-drill-lock-');
  let locker: Child | null = null;
  return scenario(
    'lock',
    run,
    dataDir,
    {},
    {
      async start() {
        locker = spawnTs('locker', 'apps/server/test/support/hold-lock.ts', [
          path.join(dataDir, 'tabgrid.sqlite'),
          '12000',
        ]);
        while (!locker.output().includes('locked')) await sleep(20);
      },
      async clear() {
        await locker!.exited; // it lets go by itself after 12 s
      },
    },
  );
}

async function fullRun(run: number): Promise<Outcome | string> {
  const vol = mountTmpfs('48m');
  if (vol.dir === null) return `full: skipped (${vol.reason})`;
  try {
    const dataDir = path.join(vol.dir, 'data');
    let filler = '';
    return await scenario(
      'full',
      run,
      dataDir,
      { TABGRID_MIN_FREE_BYTES: '0' },
      {
        async start() {
          filler = fillDisk(vol.dir);
        },
        async clear() {
          fs.rmSync(filler);
        },
      },
    );
  } finally {
    await killAll();
    vol.unmount();
  }
}

async function lowSpaceRun(run: number): Promise<Outcome | string> {
  const vol = mountTmpfs('48m');
  if (vol.dir === null) return `low-space: skipped (${vol.reason})`;
  try {
    const dataDir = path.join(vol.dir, 'data');
    const filler = path.join(vol.dir, 'filler.bin');
    return await scenario(
      'low-space',
      run,
      dataDir,
      { TABGRID_MIN_FREE_BYTES: String(24 * 1024 * 1024) },
      {
        async start() {
          fs.writeFileSync(filler, Buffer.alloc(30 * 1024 * 1024, 1));
        },
        async clear() {
          fs.rmSync(filler);
        },
      },
    );
  } finally {
    await killAll();
    vol.unmount();
  }
}

const results: (Outcome | string)[] = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const drill of [lockRun, fullRun, lowSpaceRun]) {
      if (values.only && !drill.name.startsWith(values.only)) continue;
      const outcome = await drill(run);
      results.push(outcome);
      console.log(JSON.stringify(outcome));
    }
  }
} finally {
  await killAll();
}
process.exit(
  results.some((r) => typeof r !== 'string' && (r.serverDied || r.lost > 0 || r.doubled > 0)) ? 1 : 0,
);
