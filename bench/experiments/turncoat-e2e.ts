/**
 * End-to-end check of the turncoat figures of bench/experiments/turncoat-catch.ts (a model of the
 * policy): real agent processes against a real server with the product's verification defaults
 * (trust streak 10, 5 % floor, the trust ramp, canaries 2 %, referee after 3 s), TURNCOATS
 * turncoats lying on LIE_PERCENT % of their tasks once trusted beside HONEST honest agents. Photos go
 * in waves while a turncoat is at large, up to MAX_TASKS. Prints, per turncoat, the tasks it
 * answered after turning until it was quarantined, and the run's wrong results.
 *
 *   npx tsx bench/experiments/turncoat-e2e.ts [honest=5] [turncoats=3] [liePercent=10] [maxTasks=1200] [port=8991]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_KEY } from '../lib/bench-key';
import { startBenchServer } from '../lib/server';
import { computeFigures } from '../adversarial/report';
import { runSuite } from '../adversarial/suite';

const [HONEST, TURNCOATS, LIE_PERCENT, MAX_TASKS, PORT] = [5, 3, 10, 1200, 8991].map((d, i) =>
  Number(process.argv[2 + i] ?? d),
) as [number, number, number, number, number];

const workDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-turncoat-e2e-'));
const server = await startBenchServer({
  port: PORT,
  env: { TABGRID_VERIFICATION: '1', TABGRID_DISTINCT_NETWORKS: '0', TABGRID_MAX_ASSIGNMENT_MS: '30000' },
});
const started = Date.now();
try {
  const observed = await runSuite({
    server: { url: server.url, dataDir: server.dataDir },
    apiKey: BENCH_KEY.key,
    tasks: 100,
    maxTasks: MAX_TASKS,
    wave: 40,
    honestAgents: HONEST,
    liars: Array.from({ length: TURNCOATS }, () => ({
      kind: 'turncoat' as const,
      lieRate: LIE_PERCENT / 100,
    })),
    workDir,
    timeoutMs: 3_600_000,
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  const f = computeFigures(observed);
  console.log(
    JSON.stringify(
      {
        seconds: Math.round((Date.now() - started) / 1000),
        tasks: f.tasks,
        wrongFinalAtEnd: f.wrongFinalAtEnd.count,
        wrongEverShownFinal: f.wrongEverShownFinal,
        honest: f.honest,
        overhead: f.overhead,
        turncoats: f.liars.map((l) => ({
          quarantined: l.quarantined,
          answered: l.tasksAnswered,
          afterTurn: l.afterTurn,
        })),
      },
      null,
      1,
    ),
  );
} finally {
  await server.stop();
  rmSync(workDir, { recursive: true, force: true });
}
