/**
 * Redis round trips per task for the Redis scheduling store (issue 10 goal: <= 4 amortized).
 * A private redis-server (AOF `appendfsync always`), one gateway store in this process, JOBS jobs
 * of TASKS tasks each, VOLUNTEERS simulated volunteers that each keep 2 tasks in flight: assign,
 * ack on the next tick, complete after 0-WORK ms. No sockets, no model: only the store's Redis cost.
 * Counts what the store sent (its meter: awaited replies and pipelines = round trips; commands)
 * and what Redis executed (`INFO commandstats` delta, scripts' inner calls included).
 *
 *   npx tsx bench/experiments/redis-round-trips.ts [jobs=10] [tasks=200] [volunteers=100] [workMs=5]
 */
import type { Redis } from 'ioredis';
import { connectRedis } from '../../apps/server/src/redis/connection';
import { openRedisScheduling } from '../../apps/server/src/store/redis';
import { startRedis } from '../../apps/server/test/support/redis';

const [JOBS, TASKS, VOLUNTEERS, WORK] = [10, 200, 100, 5].map((d, i) => Number(process.argv[2 + i] ?? d)) as [
  number,
  number,
  number,
  number,
];
const POLICY = { maxAttempts: 3, maxFailureReports: 2, taskDeadlineMs: 3_600_000 };

async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

function delta(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) out[k] = v - (before.get(k) ?? 0);
  return out;
}

async function main(): Promise<void> {
  const server = await startRedis();
  const redis = connectRedis(server.url, 'round-trips');
  const probe = connectRedis(server.url, 'probe');
  const total = JOBS * TASKS;
  try {
    const { store } = await openRedisScheduling(redis, POLICY, {
      gatewayId: 'gw-bench',
      demand: () => VOLUNTEERS * 3, // 2 in flight each, plus a third queued locally
    });
    const c0 = await commandCalls(probe);
    const m0 = store.meter.snapshot();
    const image = { name: 'x.jpg', imageSha256: 'a'.repeat(64), mime: 'image/jpeg', width: 64, height: 48 };
    for (let j = 0; j < JOBS; j++) {
      await store.createJob(
        Array.from({ length: TASKS }, () => image),
        Date.now(),
        { owner: `req${j % 3}`, isPublic: false },
      );
    }
    const m1 = store.meter.snapshot();
    const c1 = await commandCalls(probe);

    let done = 0;
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    await new Promise<void>((resolve) => {
      const inFlight = new Map<string, number>();
      const finished = () => {
        done++;
        if (done === total) resolve();
      };
      const pump = () => {
        for (let v = 0; v < VOLUNTEERS; v++) {
          const id = `v${v}`;
          while ((inFlight.get(id) ?? 0) < 2) {
            const next = store.assignNext(id, Date.now(), 10_000);
            if (!next) break;
            inFlight.set(id, (inFlight.get(id) ?? 0) + 1);
            setImmediate(() => {
              store.ack(next.assignment.id, Date.now(), 30_000);
              setTimeout(() => {
                store.complete(next.assignment.id, id, [], 1, Date.now());
                inFlight.set(id, inFlight.get(id)! - 1);
                finished();
                pump();
              }, Math.random() * WORK);
            });
          }
        }
      };
      store.onTasksAvailable(pump);
      pump();
    });
    await store.settle();
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const m2 = store.meter.snapshot();
    const c2 = await commandCalls(probe);
    const counts = await store.counts();
    await store.close();

    const run = { roundTrips: m2.roundTrips - m1.roundTrips, commands: m2.commands - m1.commands };
    const create = { roundTrips: m1.roundTrips - m0.roundTrips, commands: m1.commands - m0.commands };
    const executed = delta(c2, c1);
    const executedTotal = Object.values(executed).reduce((a, b) => a + b, 0);
    const per = (n: number) => (n / total).toFixed(3);
    console.log(
      JSON.stringify(
        {
          setup: {
            jobs: JOBS,
            tasksPerJob: TASKS,
            volunteers: VOLUNTEERS,
            workMs: WORK,
            appendfsync: 'always',
          },
          counts,
          tasksPerSecond: Math.round(total / seconds),
          gatewayCpuMsPerTask: ((cpu.user + cpu.system) / 1000 / total).toFixed(3),
          perTask: {
            createRoundTrips: per(create.roundTrips),
            createCommands: per(create.commands),
            runRoundTrips: per(run.roundTrips),
            runCommands: per(run.commands),
            totalRoundTrips: per(create.roundTrips + run.roundTrips),
            redisExecutedWhileRunning: per(executedTotal),
          },
          executedWhileRunning: executed,
          executedWhileCreating: delta(c1, c0),
        },
        null,
        2,
      ),
    );
  } finally {
    redis.disconnect();
    probe.disconnect();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
