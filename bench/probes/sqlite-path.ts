/**
 * `--only=sqlite-path`: the SQLite path of one task, in one process, without sockets: what the
 * scheduler asks of the store (offer, ack, result) plus the credit ledger's entry (CreditKeeper on
 * SqliteLedgerStore), on a real database file in a temporary directory. Results arrive
 * `volunteers` per event-loop turn (the keeper writes once per turn). CPU and wall time per task,
 * medians of the rounds, so two builds can be compared on a noisy machine (CPU time suffers less
 * from other processes than throughput does). `TABGRID_BENCH_SQLITE_TASKS` / `_VOLUNTEERS` /
 * `_ROUNDS` override the plan.
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
import { openDatabase } from '../../apps/server/src/storage/database';
import { SchedulerStore } from '../../apps/server/src/store/sqlite';
import { percentile } from '../lib/stats';

export interface SqlitePathResult {
  tasks: number;
  volunteersPerTurn: number;
  rounds: { cpuUsPerTask: number; wallUsPerTask: number }[];
  medianCpuUsPerTask: number;
  medianWallUsPerTask: number;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function round(
  tasks: number,
  volunteers: number,
): Promise<{ cpuUsPerTask: number; wallUsPerTask: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-sqlite-path-'));
  const db = openDatabase(dir);
  try {
    const store = new SchedulerStore(db, DEFAULT_CONFIG);
    const keeper = new CreditKeeper(new SqliteLedgerStore(db), {
      errors: new ErrorSink(new Registry(), pino({ level: 'silent' })),
      displayName: (id) => id,
      now: () => Date.now(),
      notify: () => undefined,
    });
    const photo = { mime: 'image/jpeg', width: 640, height: 480 };
    for (let i = 0; i < tasks; i += 500) {
      const n = Math.min(500, tasks - i);
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
    while (done < tasks) {
      for (let v = 0; v < volunteers && done < tasks; v++, done++) {
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
    const wallUsPerTask = Math.round(((performance.now() - t0) * 1000) / tasks);
    const cpu = process.cpuUsage(cpu0);
    return { cpuUsPerTask: Math.round((cpu.user + cpu.system) / tasks), wallUsPerTask };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function sqlitePath(quick: boolean): Promise<SqlitePathResult> {
  const env = (name: string, fallback: number) =>
    Number(process.env[`TABGRID_BENCH_SQLITE_${name}`] || fallback);
  const tasks = env('TASKS', quick ? 2000 : 20_000);
  const volunteersPerTurn = env('VOLUNTEERS', 100);
  const rounds: SqlitePathResult['rounds'] = [];
  for (let r = 0; r < env('ROUNDS', quick ? 1 : 3); r++) rounds.push(await round(tasks, volunteersPerTurn));
  return {
    tasks,
    volunteersPerTurn,
    rounds,
    medianCpuUsPerTask: percentile(
      rounds.map((r) => r.cpuUsPerTask),
      50,
    ),
    medianWallUsPerTask: percentile(
      rounds.map((r) => r.wallUsPerTask),
      50,
    ),
  };
}

export const renderSqlitePath = (r: SqlitePathResult): string[] => [
  `SQLite path of one task (offer + ack + result + credit, no sockets; ${r.tasks} tasks, ${r.volunteersPerTurn} per turn): ` +
    `median ${r.medianCpuUsPerTask} us CPU, ${r.medianWallUsPerTask} us wall per task ` +
    `(rounds: ${r.rounds.map((x) => `${x.cpuUsPerTask}/${x.wallUsPerTask}`).join(', ')})`,
];
