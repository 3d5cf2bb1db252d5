/**
 * `npx tsx bench/capacity-ab.ts OTHER_CHECKOUT` — the capacity step at 1,000 simulated volunteers
 * (2 processes, 50 ms answers), the server of OTHER_CHECKOUT (`before`) and of this one (`after`)
 * alternated in one run, medians printed. A before/after on a shared machine.
 *   TABGRID_BENCH_AB_ROUNDS (default 3), TABGRID_BENCH_AB_TASKS (default 10,000);
 *   TABGRID_BENCH_VERIFY=1, TABGRID_BENCH_REDIS=1 as for `npm run bench -- --only=capacity`.
 */
import path from 'node:path';
import { schedulerCapacity, type CapacityResult } from './lib/scheduler-capacity';
import { sleep } from './lib/stats';
import { REPO_ROOT } from '../scripts/assets';

const other = process.argv[2];
if (!other) throw new Error('usage: tsx bench/capacity-ab.ts OTHER_CHECKOUT');
const rounds = Number(process.env.TABGRID_BENCH_AB_ROUNDS || 3);
const tasks = Number(process.env.TABGRID_BENCH_AB_TASKS || 10_000);
const builds = { before: path.resolve(other), after: REPO_ROOT };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
const figures = (r: CapacityResult) => ({
  completed: r.completed,
  tasksPerSecond: r.tasksPerSecond,
  serverCpuMsPerTask: r.serverCpuMsPerTask,
  ackP99Ms: r.ackMs.p99,
  refereeShare: r.verification?.refereeShare ?? NaN,
  resultsPerTask: r.verification?.resultsPerTask ?? NaN,
  refereeRefusals: r.verification?.refereeRefusals ?? NaN,
});

const once = (n: number) =>
  schedulerCapacity({
    volunteers: 1000,
    processes: 2,
    tasks: n,
    answerDelayMs: 50,
    verify: process.env.TABGRID_BENCH_VERIFY === '1',
    redis: process.env.TABGRID_BENCH_REDIS === '1',
    port: 8899 + 1,
    timeoutMs: 120_000,
  });

const runs: Record<string, ReturnType<typeof figures>[]> = { before: [], after: [] };
for (let round = 1; round <= rounds; round++) {
  for (const [name, dir] of Object.entries(builds)) {
    process.env.TABGRID_BENCH_SERVER_DIR = dir;
    const r = await once(tasks).catch((err: unknown) => {
      // A loaded machine can keep Redis from answering a PING in 1 s (503 on upload): run again.
      console.log(`round ${round} ${name}: failed (${String(err).split('\n')[0]}), once more`);
      return sleep(5000).then(() => once(tasks));
    });
    runs[name]!.push(figures(r));
    console.log(`round ${round} ${name}: ${JSON.stringify(figures(r))}`);
  }
}
for (const [name, rs] of Object.entries(runs)) {
  const keys = Object.keys(rs[0] ?? {}).filter((k) => k !== 'completed') as (keyof (typeof rs)[number])[];
  const med = Object.fromEntries(keys.map((k) => [k, median(rs.map((r) => Number(r[k])))]));
  console.log(
    `median ${name} (${rs.filter((r) => r.completed).length}/${rs.length} completed): ${JSON.stringify(med)}`,
  );
}
