/**
 * Section 4: scheduler capacity with simulated volunteers. N socket.io-client
 * peers spread over child processes (bench/sim/volunteer-swarm.ts), each
 * answering after a fixed delay, against one server child process.
 *
 * Steps: measure server memory (after GC) -> connect N idle volunteers ->
 * measure again (per-connection cost) -> pause them, queue T tiny photos over
 * the HTTP API -> resume all and time until T results are stored. Dispatch
 * overhead, ack latency and event-loop lag come from the server's /metrics,
 * scraped just before the resume and after the last result.
 */
import { startRedis } from '../../apps/server/test/support/redis';
import { countBetween, quantileBetween, value, type Samples } from './prom';
import { startBenchServer, type MemoryProbe } from './server';
import { round1, sleep } from './stats';
import {
  queuePhotos,
  releaseAndTrack,
  startSwarm,
  stopSwarms,
  type Swarm,
  taskOutcomes,
  tinyPhoto,
} from './swarm';

export interface CapacityOptions {
  volunteers: number;
  processes: number;
  tasks: number;
  answerDelayMs: number;
  port: number;
  timeoutMs: number;
  /**
   * Verification on (TABGRID_BENCH_VERIFY=1; the product default, with every simulated volunteer
   * on loopback, so distinct networks are off): replicas, canaries and the referee count in the
   * server's CPU. A task is done when the server says so (`tabgrid_tasks_total{outcome="done"}`,
   * which counts the referee's settlements too), not when a result came back.
   */
  verify?: boolean;
  /** One gateway on a private redis-server (TABGRID_BENCH_REDIS=1) instead of SQLite. */
  redis?: boolean;
}

/** With verification on: who settled the tasks, and what the referee did (over the run). */
export interface VerificationFigures {
  /** Volunteer results per task done (2 while volunteers are new, toward 1 once trusted). */
  resultsPerTask: number;
  /** Tasks the referee settled / tasks done. */
  refereeShare: number;
  refereeSettled: number;
  /** Referee inferences by purpose (settle, canary, undecodable): its worker threads' CPU is in serverCpuMsPerTask. */
  refereeInferences: Record<string, number>;
  refereeRefusals: number;
  canariesMade: number;
  canariesUsed: number;
}

export interface CapacityResult {
  volunteers: number;
  processes: number;
  tasks: number;
  answerDelayMs: number;
  connected: number;
  connectFailed: number;
  connectSeconds: number;
  uploadSeconds: number;
  /** All T results stored before the timeout (false: timed out, or no progress for 20 s). */
  completed: boolean;
  tasksDone: number;
  runSeconds: number;
  /** T / (resume -> last result). */
  tasksPerSecond: number;
  /** Between 10 % and 90 % of the results (excludes ramp-up and tail). */
  steadyTasksPerSecond: number;
  /**
   * The server process's CPU time (user + system, prom-client's `process_cpu_seconds_total`)
   * between resume and the last result, per task done, ms. Less sensitive than tasks/s to other
   * processes on the machine, so the figure to compare builds by on a shared host.
   */
  serverCpuMsPerTask: number;
  /** SQLite commits (every connection of the server process) between resume and the last result, per task done. */
  commitsPerTask: number;
  /** From the tabgrid_dispatch_overhead_seconds histogram (interpolated within buckets), ms. */
  dispatchOverheadMs: { p50: number; p99: number; count: number };
  /** From tabgrid_ack_latency_seconds over the run, ms (1 ms resolution at source). */
  ackMs: { p50: number; p99: number };
  /** nodejs_eventloop_lag_* (monitorEventLoopDelay, 10 ms resolution) over the run, ms. */
  eventLoopLagMs: { p50: number; p99: number; max: number };
  requeued: number;
  failed: number;
  /** Only with verification on. */
  verification?: VerificationFigures;
  memory: {
    before: MemoryProbe;
    after: MemoryProbe;
    /** (RSS after connecting - before) / N, KB. */
    rssPerVolunteerKB: number;
    heapPerVolunteerKB: number;
  };
}

const KB = 1024;
/** Give up on a run when no result has been stored for this long (e.g. an ack-timeout storm). */
const STALL_MS = 20_000;

export async function schedulerCapacity(options: CapacityOptions): Promise<CapacityResult> {
  const { volunteers: n, processes, tasks, answerDelayMs } = options;
  const redis = options.redis ? await startRedis() : null;
  const server = await startBenchServer({
    port: options.port,
    // Verification off by default: this measures dispatch (see scale.ts; bench/adversarial
    // measures verification against liars). TABGRID_BENCH_VERIFY=1: on, with honest volunteers.
    env: {
      TABGRID_MAX_QUEUED: String(tasks + 1000),
      LOG_LEVEL: 'error',
      TABGRID_VERIFICATION: options.verify ? '1' : '0',
      TABGRID_DISTINCT_NETWORKS: '0',
      ...(redis ? { TABGRID_REDIS_URL: redis.url } : {}),
    },
  }).catch(async (err: unknown) => {
    await redis?.stop();
    throw err;
  });
  const swarms: Swarm[] = [];
  try {
    const photo = await tinyPhoto();
    await sleep(500);
    const before = await server.memory();

    const t0 = performance.now();
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(n / processes) + (p < n % processes ? 1 : 0);
      swarms.push(startSwarm(server.url, count, `sim${p}`, answerDelayMs));
    }
    const joined = await Promise.all(
      swarms.map((s) => s.request<{ ok: number; failed: number }>({ type: 'connect' }, 'connected')),
    );
    const connectSeconds = (performance.now() - t0) / 1000;
    const connected = joined.reduce((a, j) => a + j.ok, 0);
    const connectFailed = joined.reduce((a, j) => a + j.failed, 0);
    await sleep(1000);
    const after = await server.memory();

    // Pause everyone, queue the work, then release it all at once.
    await Promise.all(swarms.map((s) => s.request({ type: 'state', accepting: false }, 'state-sent')));
    await sleep(Math.min(3000, 300 + n / 5));
    const t1 = performance.now();
    await queuePhotos((files) => server.upload(files), photo, tasks);
    const uploadSeconds = (performance.now() - t1) / 1000;

    const c0 = await server.commits();
    const m0 = await server.metrics();
    const progress = options.verify
      ? await releaseAndTrackServer(swarms, () => server.metrics(), tasks, options.timeoutMs)
      : await releaseAndTrack(swarms, tasks, options.timeoutMs, STALL_MS);
    const { done, runSeconds } = progress;
    const m1 = await server.metrics();
    const c1 = await server.commits();

    const steady = progress.steadyTasksPerSecond;
    const ms = (seconds: number) => round1(seconds * 1000);
    const { requeued, failed } = taskOutcomes(m0, m1);
    return {
      volunteers: n,
      processes,
      tasks,
      answerDelayMs,
      connected,
      connectFailed,
      connectSeconds: round1(connectSeconds),
      uploadSeconds: round1(uploadSeconds),
      completed: done >= tasks,
      tasksDone: done,
      runSeconds: round1(runSeconds),
      tasksPerSecond: Math.round(done / Math.max(runSeconds, 1e-3)),
      steadyTasksPerSecond: Math.round(steady),
      serverCpuMsPerTask:
        Math.round(
          ((value(m1, 'process_cpu_seconds_total') - value(m0, 'process_cpu_seconds_total')) * 1e6) /
            Math.max(done, 1),
        ) / 1000,
      commitsPerTask: Math.round(((c1 - c0) / Math.max(done, 1)) * 1000) / 1000,
      dispatchOverheadMs: {
        p50: ms(quantileBetween(m0, m1, 'tabgrid_dispatch_overhead_seconds', 0.5)),
        p99: ms(quantileBetween(m0, m1, 'tabgrid_dispatch_overhead_seconds', 0.99)),
        count: countBetween(m0, m1, 'tabgrid_dispatch_overhead_seconds_count'),
      },
      ackMs: {
        p50: ms(quantileBetween(m0, m1, 'tabgrid_ack_latency_seconds', 0.5)),
        p99: ms(quantileBetween(m0, m1, 'tabgrid_ack_latency_seconds', 0.99)),
      },
      eventLoopLagMs: {
        p50: ms(value(m1, 'nodejs_eventloop_lag_p50_seconds')),
        p99: ms(value(m1, 'nodejs_eventloop_lag_p99_seconds')),
        max: ms(
          Math.max(
            value(m1, 'nodejs_eventloop_lag_max_seconds'),
            'lagMaxSeconds' in progress ? progress.lagMaxSeconds : 0,
          ),
        ),
      },
      requeued,
      failed,
      ...(options.verify ? { verification: await verificationFigures(m0, m1, done, swarms) } : {}),
      memory: {
        before,
        after,
        rssPerVolunteerKB: round1((after.rss - before.rss) / KB / Math.max(1, connected)),
        heapPerVolunteerKB: round1((after.heapUsed - before.heapUsed) / KB / Math.max(1, connected)),
      },
    };
  } finally {
    await stopSwarms(swarms);
    await server.stop();
    await redis?.stop();
  }
}

/** The change of every sample of `name` whose labels include `label` between two scrapes. */
function sumBetween(m0: Samples, m1: Samples, name: string, label = ''): number {
  let sum = 0;
  for (const [key, v] of m1) {
    if ((key === name || key.startsWith(`${name}{`)) && key.includes(label)) sum += v - (m0.get(key) ?? 0);
  }
  return sum;
}

const tasksDone = (m: Samples) => sumBetween(new Map(), m, 'tabgrid_tasks_total', 'outcome="done"');

/** Resumes every volunteer and waits until the server has `tasks` more tasks done (or gives up). */
async function releaseAndTrackServer(
  swarms: readonly Swarm[],
  metrics: () => Promise<Samples>,
  tasks: number,
  timeoutMs: number,
): Promise<{ done: number; runSeconds: number; steadyTasksPerSecond: number; lagMaxSeconds: number }> {
  const base = tasksDone(await metrics());
  // Each scrape resets the loop-delay histogram: its max is kept over the scrapes.
  let lagMaxSeconds = 0;
  const start = performance.now();
  await Promise.all(swarms.map((s) => s.request({ type: 'state', accepting: true }, 'state-sent')));
  const samples: { t: number; done: number }[] = [];
  let done = 0;
  let lastProgress = start;
  while (
    done < tasks &&
    performance.now() - start < timeoutMs &&
    performance.now() - lastProgress < STALL_MS
  ) {
    await sleep(250);
    const m = await metrics();
    lagMaxSeconds = Math.max(lagMaxSeconds, value(m, 'nodejs_eventloop_lag_max_seconds'));
    const now = tasksDone(m) - base;
    if (now > done) lastProgress = performance.now();
    done = now;
    samples.push({ t: performance.now() - start, done });
  }
  const crossing = (fraction: number) => samples.find((x) => x.done >= fraction * tasks);
  const a = crossing(0.1);
  const b = crossing(0.9);
  return {
    done,
    runSeconds: (samples.at(-1)?.t ?? 0) / 1000,
    steadyTasksPerSecond: a && b && b.t > a.t ? (b.done - a.done) / ((b.t - a.t) / 1000) : Number.NaN,
    lagMaxSeconds,
  };
}

async function verificationFigures(
  m0: Samples,
  m1: Samples,
  done: number,
  swarms: readonly Swarm[],
): Promise<VerificationFigures> {
  const stats = await Promise.all(swarms.map((s) => s.request<{ done: number }>({ type: 'stats' }, 'stats')));
  const results = stats.reduce((a, x) => a + x.done, 0);
  const settled = sumBetween(m0, m1, 'tabgrid_referee_runs_total', 'outcome="settled"');
  const inferences: Record<string, number> = {};
  for (const purpose of ['settle', 'canary', 'undecodable']) {
    inferences[purpose] = sumBetween(m0, m1, 'tabgrid_referee_inferences_total', `purpose="${purpose}"`);
  }
  return {
    resultsPerTask: round1(results / Math.max(1, done)),
    refereeShare: Math.round((settled / Math.max(1, done)) * 1000) / 1000,
    refereeSettled: settled,
    refereeInferences: inferences,
    refereeRefusals: sumBetween(m0, m1, 'tabgrid_referee_refusals_total'),
    canariesMade: sumBetween(m0, m1, 'tabgrid_canaries_total', 'outcome="made"'),
    canariesUsed:
      sumBetween(m0, m1, 'tabgrid_canaries_total', 'outcome="passed"') +
      sumBetween(m0, m1, 'tabgrid_canaries_total', 'outcome="failed"'),
  };
}
