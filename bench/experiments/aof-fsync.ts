/**
 * What Redis durability costs: AOF `appendfsync always` (what Tabgrid requires: a `201` job
 * survives `kill -9` of Redis) vs `everysec` (up to ~1 s of acknowledged writes lost) vs no AOF,
 * on this machine's disk. For each mode, a private redis-server (test/support/redis.ts) and:
 *  1. single writes one at a time (`SET`): latency p50/p99 — one fsync per write;
 *  2. 64 writers at once: writes/s — Redis groups the fsync of everything written in one
 *     event-loop turn, so concurrency amortizes it;
 *  3. job creation through the real Redis scheduling store (`createJob`, 10 tasks: one
 *     MULTI/EXEC), one at a time: latency p50/p99 — what `POST /api/jobs` waits for.
 *
 *   npx tsx bench/experiments/aof-fsync.ts [--writes=2000] [--jobs=200]
 */
import { performance } from 'node:perf_hooks';
import { startRedis } from '../../apps/server/test/support/redis';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { connectRedis } from '../../apps/server/src/redis/connection';
import { openRedisScheduling } from '../../apps/server/src/store/redis';
import { percentile, round1, round2, summarize } from '../lib/stats';

const arg = (n: string, d: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const WRITES = Number(arg('writes', '2000'));
const JOBS = Number(arg('jobs', '200'));
const CONCURRENCY = 64;
const MODES = ['always', 'everysec', 'off'] as const;

const tasks = Array.from({ length: 10 }, (_, i) => ({
  name: `p${i}.jpg`,
  imageSha256: `${i}`.padStart(64, 'f'),
  mime: 'image/jpeg',
  width: 640,
  height: 480,
}));

async function measure(mode: (typeof MODES)[number]) {
  const server = await startRedis({ appendfsync: mode });
  const redis = connectRedis(server.url, 'bench');
  try {
    const value = 'x'.repeat(200); // about a stored result's size
    const single: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const t = performance.now();
      await redis.set(`bench:single:${i}`, value);
      single.push(performance.now() - t);
    }
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < WRITES * 5) await redis.set(`bench:many:${next++}`, value);
      }),
    );
    const perSecond = (WRITES * 5) / ((performance.now() - t0) / 1000);
    const schedulingConn = redis.duplicate();
    const { store } = await openRedisScheduling(schedulingConn, DEFAULT_CONFIG, {
      gatewayId: `gw-bench-${mode}`,
      demand: () => 0,
    });
    const jobs: number[] = [];
    for (let i = 0; i < JOBS; i++) {
      const t = performance.now();
      await store.createJob(tasks, Date.now(), { owner: 'bench', isPublic: false });
      jobs.push(performance.now() - t);
    }
    await store.close(true);
    schedulingConn.disconnect();
    const j = summarize(jobs);
    return {
      mode: mode === 'off' ? 'no AOF' : `appendfsync ${mode}`,
      'SET p50 ms': round2(percentile(single, 50)),
      'SET p99 ms': round2(percentile(single, 99)),
      [`SET/s x${CONCURRENCY}`]: Math.round(perSecond),
      'createJob p50 ms': round1(j.p50),
      'createJob p99 ms': round1(j.p99),
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

const rows = [];
for (const mode of MODES) rows.push(await measure(mode));
console.table(rows);
process.exit(0);
