/**
 * `--only=swarm`: the swarm goal of issue 18. With verification on, 2,000 honest simulated
 * volunteers (new identities, 4 child processes, answering after 50 ms) drain 20,000 tasks of one
 * small photo on one SQLite gateway. Goals: ack p99 <= 1 s, the referee settles <= 5 % of the
 * tasks, server CPU <= 0.6 ms per task done. The CPU is `process_cpu_seconds_total` of the server
 * process: every thread, so every replica and the referee's worker threads count.
 * The capacity step with `verify` on (bench/lib/scheduler-capacity.ts) does the run.
 *
 *   npm run bench -- --only=swarm   (--quick: 200 volunteers, 2,000 tasks;
 *   TABGRID_BENCH_SWARM_VOLUNTEERS / _TASKS / _PROCESSES / _ROUNDS override)
 */
import { loadavg } from 'node:os';
import { schedulerCapacity, type CapacityResult } from '../lib/scheduler-capacity';

export interface SwarmRound {
  volunteers: number;
  tasks: number;
  tasksDone: number;
  runSeconds: number;
  tasksPerSecond: number;
  ackMs: { p50: number; p99: number };
  serverCpuMsPerTask: number;
  resultsPerTask: number;
  /** Tasks the referee settled / tasks done (the goal's "runs <= 5 %"). */
  refereeShare: number;
  refereeInferences: Record<string, number>;
  refereeRefusals: number;
  canariesMade: number;
  canariesUsed: number;
  requeued: number;
  loopLagMaxMs: number;
  /** `os.loadavg()[0]` at the start and end of the round: ack latency is not robust to load. */
  load: [number, number];
}

const env = (name: string, fallback: number) =>
  Number(process.env[`TABGRID_BENCH_SWARM_${name}`] || fallback);

function toRound(c: CapacityResult, load: [number, number]): SwarmRound {
  const v = c.verification;
  return {
    volunteers: c.volunteers,
    tasks: c.tasks,
    tasksDone: c.tasksDone,
    runSeconds: c.runSeconds,
    tasksPerSecond: c.tasksPerSecond,
    ackMs: c.ackMs,
    serverCpuMsPerTask: c.serverCpuMsPerTask,
    resultsPerTask: v?.resultsPerTask ?? Number.NaN,
    refereeShare: v?.refereeShare ?? Number.NaN,
    refereeInferences: v?.refereeInferences ?? {},
    refereeRefusals: v?.refereeRefusals ?? 0,
    canariesMade: v?.canariesMade ?? 0,
    canariesUsed: v?.canariesUsed ?? 0,
    requeued: c.requeued,
    loopLagMaxMs: c.eventLoopLagMs.max,
    load,
  };
}

export async function swarmGoal(quick: boolean, port: number): Promise<SwarmRound[]> {
  const plan = {
    volunteers: env('VOLUNTEERS', quick ? 200 : 2000),
    tasks: env('TASKS', quick ? 2000 : 20_000),
    processes: env('PROCESSES', quick ? 2 : 4),
  };
  const out: SwarmRound[] = [];
  for (let r = 0; r < env('ROUNDS', 1); r++) {
    const load0 = loadavg()[0]!;
    const c = await schedulerCapacity({
      ...plan,
      answerDelayMs: 50,
      verify: true,
      port,
      timeoutMs: quick ? 120_000 : 600_000,
    });
    out.push(toRound(c, [Math.round(load0 * 10) / 10, Math.round(loadavg()[0]! * 10) / 10]));
  }
  return out;
}

export function renderSwarm(rounds: SwarmRound[]): string[] {
  const goal = (ok: boolean) => (ok ? 'met' : '**not met**');
  return [
    '## The swarm goal (--only=swarm; verification on, honest volunteers, one SQLite gateway)',
    '',
    '| volunteers | done | tasks/s | ack p50 / p99 ms | referee share | server CPU ms/task | results/task | referee inferences | refusals | canaries made / used | requeued | loop max ms | load start / end |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rounds.map(
      (r) =>
        `| ${r.volunteers} | ${r.tasksDone}/${r.tasks} | ${r.tasksPerSecond} | ${r.ackMs.p50} / ${r.ackMs.p99} (${goal(r.ackMs.p99 <= 1000)}) | ${r.refereeShare} (${goal(r.refereeShare <= 0.05)}) | ${r.serverCpuMsPerTask} (${goal(r.serverCpuMsPerTask <= 0.6)}) | ${r.resultsPerTask} | ${JSON.stringify(r.refereeInferences)} | ${r.refereeRefusals} | ${r.canariesMade} / ${r.canariesUsed} | ${r.requeued} | ${r.loopLagMaxMs} | ${r.load[0]} / ${r.load[1]} |`,
    ),
  ];
}
