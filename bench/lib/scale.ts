/**
 * Section `scale` (`npm run bench -- --only=scale`): the same work on 1 gateway on SQLite, 1 gateway
 * on Redis and 3 gateways on one Redis, in one run (rounds alternate the setups). Each setup:
 * gateways as real server processes (`TABGRID_REDIS_URL` for Redis, a private redis-server with
 * AOF `appendfsync always`), the same number of simulated-volunteer processes spread over the
 * gateways, T tiny photos uploaded through gateway 1 while everyone is paused, then everyone
 * resumed at once and timed until T results are stored. Measured: tasks/s, ack p50/p99 (the
 * gateways' histograms added up), requeues, memory per connection (RSS after GC, summed over the
 * gateways), and Redis commands and read events (≈ round trips) per task from Redis's own counters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../../apps/server/test/support/redis';
import { quantileBetween, type Samples } from './prom';
import { counterDelta, redisCounters } from './redis-stats';
import { startBenchServer, type BenchServer } from './server';
import { round1, round2, sleep } from './stats';
import {
  queuePhotos,
  releaseAndTrack,
  startSwarm,
  stopSwarms,
  type Swarm,
  taskOutcomes,
  tinyPhoto,
} from './swarm';

export type ScaleSetup = { id: string; name: string; backend: 'sqlite' | 'redis'; gateways: number };

export const SCALE_SETUPS: readonly ScaleSetup[] = [
  { id: 'sqlite', name: '1 gateway, SQLite', backend: 'sqlite', gateways: 1 },
  { id: 'redis1', name: '1 gateway, Redis', backend: 'redis', gateways: 1 },
  { id: 'redis3', name: '3 gateways, Redis', backend: 'redis', gateways: 3 },
];

export interface ScaleOptions {
  setup: ScaleSetup;
  volunteers: number;
  /** Simulated-volunteer processes in total (the same for every setup), spread over the gateways. */
  swarms: number;
  tasks: number;
  answerDelayMs: number;
  /** Gateway i listens on basePort + i. */
  basePort: number;
  timeoutMs: number;
}

export interface RedisCost {
  /**
   * Commands Redis executed per task: upload (job + tasks) and run (dispatch -> result stored).
   * `INFO commandstats` counts the commands a Lua script runs too (an EVALSHA doing 4 HSET/HINCRBY
   * counts 5), so this is the work Redis does, not what the gateways send: see `readsPerTask`.
   */
  commandsPerTask: { upload: number; run: number; total: number };
  /** Read events per task (≈ round trips: a pipeline is one), upload + run. */
  readsPerTask: number;
  /** The run's commands by name, per task (largest first, top 12). */
  runByCommand: Record<string, number>;
}

export interface ScaleResult {
  setup: string;
  gateways: number;
  volunteers: number;
  tasks: number;
  connected: number;
  completed: boolean;
  tasksDone: number;
  runSeconds: number;
  tasksPerSecond: number;
  steadyTasksPerSecond: number;
  ackMs: { p50: number; p99: number };
  requeued: number;
  failed: number;
  /** Sum over gateways of (RSS after connecting - before), per connected volunteer, KB. */
  rssPerConnectionKB: number;
  heapPerConnectionKB: number;
  /** Highest event-loop lag max over the gateways, ms. */
  eventLoopLagMaxMs: number;
  redis: RedisCost | null;
}

const KB = 1024;
const STALL_MS = 20_000;

/** Adds the gateways' scrapes up (histogram buckets and counters are sums). */
function sumSamples(all: Samples[]): Samples {
  const out: Samples = new Map();
  for (const samples of all) for (const [k, v] of samples) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

const split = (total: number, parts: number, i: number) =>
  Math.floor(total / parts) + (i < total % parts ? 1 : 0);

export async function scaleRun(options: ScaleOptions): Promise<ScaleResult> {
  const { setup, volunteers: n, tasks } = options;
  const redis: TestRedis | null = setup.backend === 'redis' ? await startRedis() : null;
  const admin = redis ? new Redis(redis.url) : null;
  // Gateways on Redis share one image directory (docs/DEPLOY.md: NFS/EFS-style in production).
  const shared = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-scale-'));
  const gateways: BenchServer[] = [];
  const swarms: Swarm[] = [];
  try {
    for (let g = 0; g < setup.gateways; g++) {
      gateways.push(
        await startBenchServer({
          port: options.basePort + g,
          env: {
            TABGRID_MAX_QUEUED: String(tasks + 1000),
            LOG_LEVEL: 'error',
            // The store and dispatch path, not verification (bench/adversarial measures that): with
            // it on, every simulated volunteer on 127.0.0.1 and distinct networks required, no
            // replica could settle a task and only the referee's 10 runs/s gave verdicts.
            TABGRID_VERIFICATION: '0',
            ...(redis ? { TABGRID_REDIS_URL: redis.url, TABGRID_BLOB_DIR: shared } : {}),
          },
        }),
      );
    }
    const photo = await tinyPhoto();
    await sleep(500);
    const before = await Promise.all(gateways.map((g) => g.memory()));
    for (let s = 0; s < options.swarms; s++) {
      const gateway = gateways[s % gateways.length]!;
      swarms.push(startSwarm(gateway.url, split(n, options.swarms, s), `scale${s}`, options.answerDelayMs));
    }
    const joined = await Promise.all(
      swarms.map((s) => s.request<{ ok: number; failed: number }>({ type: 'connect' }, 'connected')),
    );
    const connected = joined.reduce((a, j) => a + j.ok, 0);
    await sleep(1000);
    const after = await Promise.all(gateways.map((g) => g.memory()));

    await Promise.all(swarms.map((s) => s.request({ type: 'state', accepting: false }, 'state-sent')));
    await sleep(Math.min(3000, 300 + n / 5));
    const r0 = admin ? await redisCounters(admin) : null;
    await queuePhotos((files) => gateways[0]!.upload(files), photo, tasks);
    const r1 = admin ? await redisCounters(admin) : null;

    const m0 = sumSamples(await Promise.all(gateways.map((g) => g.metrics())));
    const progress = await releaseAndTrack(swarms, tasks, options.timeoutMs, STALL_MS);
    const { done, runSeconds } = progress;
    // Let results in flight to Redis land before reading its counters.
    await sleep(500);
    const r2 = admin ? await redisCounters(admin) : null;
    const scrapes = await Promise.all(gateways.map((g) => g.metrics()));
    const m1 = sumSamples(scrapes);

    const steady = progress.steadyTasksPerSecond;
    const { requeued, failed } = taskOutcomes(m0, m1);
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    let redisCost: RedisCost | null = null;
    if (r0 && r1 && r2) {
      const upload = counterDelta(r0, r1);
      const run = counterDelta(r1, r2);
      const per = (x: number) => round2(x / Math.max(1, done));
      redisCost = {
        commandsPerTask: {
          upload: round2(upload.commands / tasks),
          run: per(run.commands),
          total: round2(upload.commands / tasks + run.commands / Math.max(1, done)),
        },
        readsPerTask: round2(upload.reads / tasks + run.reads / Math.max(1, done)),
        runByCommand: Object.fromEntries(
          Object.entries(run.byCommand)
            .sort((x, y) => y[1] - x[1])
            .slice(0, 12)
            .map(([k, v]) => [k, per(v)]),
        ),
      };
    }
    return {
      setup: setup.name,
      gateways: setup.gateways,
      volunteers: n,
      tasks,
      connected,
      completed: done >= tasks,
      tasksDone: done,
      runSeconds: round1(runSeconds),
      tasksPerSecond: Math.round(done / Math.max(runSeconds, 1e-3)),
      steadyTasksPerSecond: Math.round(steady),
      ackMs: {
        p50: round1(quantileBetween(m0, m1, 'tabgrid_ack_latency_seconds', 0.5) * 1000),
        p99: round1(quantileBetween(m0, m1, 'tabgrid_ack_latency_seconds', 0.99) * 1000),
      },
      requeued,
      failed,
      rssPerConnectionKB: round1(
        (sum(after.map((m) => m.rss)) - sum(before.map((m) => m.rss))) / KB / Math.max(1, connected),
      ),
      heapPerConnectionKB: round1(
        (sum(after.map((m) => m.heapUsed)) - sum(before.map((m) => m.heapUsed))) /
          KB /
          Math.max(1, connected),
      ),
      eventLoopLagMaxMs: round1(
        Math.max(...scrapes.map((s) => s.get('nodejs_eventloop_lag_max_seconds') ?? 0)) * 1000,
      ),
      redis: redisCost,
    };
  } finally {
    await stopSwarms(swarms);
    await Promise.all(gateways.map((g) => g.stop()));
    admin?.disconnect();
    await redis?.stop();
    rmSync(shared, { recursive: true, force: true });
  }
}

/** Median of each setup's runs by tasks/s (the run itself, so its other figures stay consistent). */
export function medianRun(runs: readonly ScaleResult[]): ScaleResult | null {
  if (runs.length === 0) return null;
  const sorted = [...runs].sort((x, y) => x.tasksPerSecond - y.tasksPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
