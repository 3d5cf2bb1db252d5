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
import { countBetween, quantileBetween, value } from './prom';
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
  const server = await startBenchServer({
    port: options.port,
    // Verification off: this measures dispatch (see scale.ts; bench/adversarial measures verification).
    env: { TABGRID_MAX_QUEUED: String(tasks + 1000), LOG_LEVEL: 'error', TABGRID_VERIFICATION: '0' },
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
    const progress = await releaseAndTrack(swarms, tasks, options.timeoutMs, STALL_MS);
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
        max: ms(value(m1, 'nodejs_eventloop_lag_max_seconds')),
      },
      requeued,
      failed,
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
  }
}
