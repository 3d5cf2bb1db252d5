/**
 * The SQLite path of one task, in one process, without sockets: what the scheduler asks of the
 * store (offer, ack, result) plus the credit ledger's entry (CreditKeeper on SqliteLedgerStore),
 * on a real database file in a temporary directory. `--volunteers` results arrive per event-loop
 * turn (the keeper writes once per turn). Prints CPU and wall time per task, so two builds can be
 * compared on a noisy machine (CPU time suffers less from other processes than throughput does).
 *
 *   npx tsx bench/experiments/sqlite-path.ts [--tasks=20000] [--volunteers=100] [--rounds=3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { CreditKeeper, SqliteLedgerStore } from '../../apps/server/src/ledger';
import { ErrorSink } from '../../apps/server/src/observability/error-sink';
import { SchedulerStore } from '../../apps/server/src/store/sqlite';
import { openDatabase } from '../../apps/server/src/storage/database';

const arg = (n: string, d: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d;
const TASKS = Number(arg('tasks', '20000'));
const VOLUNTEERS = Number(arg('volunteers', '100'));
const ROUNDS = Number(arg('rounds', '3'));

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function round(): Promise<{ cpuUs: number; wallUs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-sqlite-path-'));
  const db = openDatabase(dir);
  try {
    const store = new SchedulerStore(db, DEFAULT_CONFIG);
    const errors = new ErrorSink(new Registry(), pino());
    const keeper = new CreditKeeper(new SqliteLedgerStore(db), {
      errors,
      displayName: (id) => id,
      now: () => Date.now(),
      notify: () => undefined,
    });
    const photo = { mime: 'image/jpeg', width: 640, height: 480 };
    for (let i = 0; i < TASKS; i += 500) {
      const n = Math.min(500, TASKS - i);
      await store.createJob(
        Array.from({ length: n }, (_, k) => ({
          ...photo,
          name: `p${i + k}.jpg`,
          imageSha256: `${i + k}`.padStart(64, '0'),
        })),
        Date.now(),
      );
    }
    const detections = [
      { label: 'person', classId: 0, score: 0.9, box: [1, 2, 30, 40] as [number, number, number, number] },
    ];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let done = 0;
    while (done < TASKS) {
      for (let v = 0; v < VOLUNTEERS && done < TASKS; v++, done++) {
        const now = Date.now();
        const offered = store.assignNext(`v_${v}`, now, 1000)!;
        const acked = store.ack(offered.assignment.id, now, 30_000)!;
        const outcome = store.complete(acked.id, acked.volunteerId, detections, 12, now);
        if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
        keeper.resultAccepted(outcome.assignment, null, now);
      }
      await turn();
    }
    await keeper.idle();
    const wallUs = ((performance.now() - t0) * 1000) / TASKS;
    const cpu = process.cpuUsage(cpu0);
    return { cpuUs: (cpu.user + cpu.system) / TASKS, wallUs };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows: { cpuUs: number; wallUs: number }[] = [];
for (let r = 0; r < ROUNDS; r++) rows.push(await round());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  JSON.stringify({
    tasks: TASKS,
    volunteersPerTurn: VOLUNTEERS,
    rounds: rows.map((r) => ({ cpuUsPerTask: Math.round(r.cpuUs), wallUsPerTask: Math.round(r.wallUs) })),
    medianCpuUsPerTask: Math.round(median(rows.map((r) => r.cpuUs))),
    medianWallUsPerTask: Math.round(median(rows.map((r) => r.wallUs))),
  }),
);
