/**
 * The benchmark: runs the selected sections, returns (and writes) the results
 * object that `bench/results.json` holds, and renders the readable tables.
 * Figures are whatever this machine gives at the time: nothing here asserts a timing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelPath, REPO_ROOT, sampleImage } from '../../scripts/assets';
import {
  browserInference,
  coldStart,
  endToEnd,
  launchBrowser,
  readPhoto,
  type ColdStartRun,
  type EndToEndResult,
} from './browser';
import { nodeInference, type InferenceConfigResult } from './inference-node';
import { SCALE_SETUPS, medianRun, scaleRun, type ScaleResult } from './scale';
import { schedulerCapacity, type CapacityResult } from './scheduler-capacity';
import { adversarialSection, type AdversarialResult } from '../adversarial/section';
import { adversarialGoals, renderAdversarial } from '../adversarial/goals';
import { PROBE_SECTIONS, renderProbes, runProbe, type ProbeResults } from '../probes';
import { startBenchServer } from './server';
import { round1, round2 } from './stats';

export const SECTIONS = [
  'node-inference',
  'browser-inference',
  'cold-start',
  'end-to-end',
  'capacity',
  'adversarial',
  'scale',
  ...PROBE_SECTIONS,
] as const;
export type Section = (typeof SECTIONS)[number];
/**
 * What `npm run bench` runs without `--only`: the adversarial suite (about 20 min) and the focused
 * probes (`bench/probes/`) are opt-in.
 */
export const DEFAULT_SECTIONS: readonly Section[] = SECTIONS.filter(
  (s) => s !== 'adversarial' && !(PROBE_SECTIONS as readonly string[]).includes(s),
);

export interface BenchOptions {
  quick: boolean;
  sections: readonly Section[];
  /** Port of the server for the browser sections; capacity uses port + 1, scale port + 10 … + 12. */
  port: number;
  /** Where to write the results; null = do not write. */
  out: string | null;
  log?: (line: string) => void;
}

export interface GoalRow {
  goal: string;
  target: string;
  measured: string;
  /** null = not measured in this run (section skipped or quick scale). */
  met: boolean | null;
  how: string;
}

export interface BenchResults {
  meta: {
    startedAt: string;
    durationSeconds: number;
    quick: boolean;
    sections: Section[];
    note: string;
    machine: {
      cores: number;
      cpuModel: string;
      memoryGB: number;
      platform: string;
      ulimitN: string;
      loadAvg: number[];
    };
    versions: Record<
      'node' | 'onnxruntimeWeb' | 'onnxruntimeNode' | 'chromium' | 'socketIo' | 'playwright',
      string
    >;
  };
  inference: {
    photo: string;
    configs: InferenceConfigResult[];
    bestBrowser: InferenceConfigResult | null;
    bestNative: InferenceConfigResult | null;
    /** best browser total p50 / best native total p50 (same run). */
    browserOverNative: number | null;
    /** Same, session.run only. */
    browserOverNativeRunOnly: number | null;
  } | null;
  coldStart: ColdStartRun[] | null;
  endToEnd: EndToEndResult | null;
  schedulerCapacity: CapacityResult[] | null;
  /** `--only=adversarial`: liars against verification, and latency with verification on/off. */
  adversarial: AdversarialResult | null;
  /** 1 gateway SQLite vs 1 gateway Redis vs 3 gateways Redis: every run, and each setup's median. */
  scale: { runs: ScaleResult[]; medians: ScaleResult[] } | null;
  /** The opt-in probes that ran (`--only=lone-volunteer,edges,upload-memory,sqlite-path`). */
  probes: ProbeResults;
  goals: GoalRow[];
  /** Sections that failed, with the error (the others still ran). */
  errors: { section: Section; message: string }[];
}

const pkgVersion = (name: string) =>
  (
    JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

function ulimitN(): string {
  try {
    return execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function ensureWebBuild(log: (line: string) => void): void {
  if (existsSync(path.join(REPO_ROOT, 'dist', 'index.html'))) return;
  log('dist/ is missing: running `npx vite build`');
  execFileSync('npx', ['vite', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

const best = (configs: InferenceConfigResult[], runtime: string) =>
  configs.filter((c) => c.runtime === runtime).sort((a, b) => a.totalMs.p50 - b.totalMs.p50)[0] ?? null;

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const q = options.quick;
  const has = (s: Section) => options.sections.includes(s);
  const photoName = 'bus.jpg';
  const photoPath = sampleImage(photoName);
  const photo = readPhoto(photoPath);
  const sha256 = createHash('sha256').update(readFileSync(modelPath())).digest('hex');
  const runs = q ? 5 : 30;
  const warmup = q ? 1 : 5;

  const results: BenchResults = {
    meta: {
      startedAt: new Date(started).toISOString(),
      durationSeconds: 0,
      quick: q,
      sections: [...options.sections],
      note: 'Measured on a shared 2-core machine while other work ran: treat figures as indicative.',
      machine: {
        cores: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGB: round1(os.totalmem() / 2 ** 30),
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        ulimitN: ulimitN(),
        loadAvg: os.loadavg().map(round1),
      },
      versions: {
        node: process.version,
        onnxruntimeWeb: pkgVersion('onnxruntime-web'),
        onnxruntimeNode: pkgVersion('onnxruntime-node'),
        chromium: 'not launched',
        socketIo: pkgVersion('socket.io'),
        playwright: pkgVersion('@playwright/test'),
      },
    },
    inference: null,
    coldStart: null,
    endToEnd: null,
    schedulerCapacity: null,
    adversarial: null,
    scale: null,
    probes: {},
    goals: [],
    errors: [],
  };
  /** Runs one section; a failure is recorded and the other sections still run. */
  const attempt = async (section: Section, fn: () => Promise<void>) => {
    if (!has(section)) return;
    try {
      await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`${section} FAILED: ${message}`);
      results.errors.push({ section, message: message.slice(0, 2000) });
    }
  };

  const configs: InferenceConfigResult[] = [];
  await attempt('node-inference', async () => {
    for (const threads of [0, 1]) {
      log(`inference: onnxruntime-node threads=${threads || 'default'} (${runs} runs)`);
      configs.push(await nodeInference('native', threads, runs, warmup, photoPath));
    }
    for (const threads of [1, 2]) {
      log(`inference: onnxruntime-web in Node threads=${threads} (${runs} runs)`);
      configs.push(await nodeInference('web', threads, runs, warmup, photoPath));
    }
  });

  if (has('browser-inference') || has('cold-start') || has('end-to-end')) {
    ensureWebBuild(log);
    const server = await startBenchServer({ port: options.port });
    const browser = await launchBrowser();
    results.meta.versions.chromium = browser.version();
    try {
      await attempt('browser-inference', async () => {
        for (const threads of q ? [1, 2] : [1, 2, 4]) {
          log(`inference: Chromium WASM threads=${threads} (${runs} runs)`);
          configs.push(await browserInference(browser, server, photo, sha256, threads, runs, warmup));
        }
      });
      await attempt('cold-start', async () => {
        log('cold start: empty profile, then the same profile reopened');
        results.coldStart = await coldStart(server, photo);
      });
      await attempt('end-to-end', async () => {
        const batch = q ? 10 : 100;
        const singles = q ? 5 : 20;
        log(`end to end: 2 tabs, ${batch} photos in one job, then ${singles} single-photo jobs`);
        results.endToEnd = await endToEnd(browser, server, photo, sha256, {
          batch,
          singles,
          threads: 1,
          isolatedRuns: q ? 3 : 10,
        });
      });
    } finally {
      await browser.close();
      await server.stop();
    }
  }

  if (configs.length > 0) {
    const bestBrowser = best(configs, 'chromium-wasm');
    const bestNative = best(configs, 'native');
    const ratio = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? round2(a / b) : null;
    results.inference = {
      photo: photoName,
      configs,
      bestBrowser,
      bestNative,
      browserOverNative: ratio(bestBrowser?.totalMs.p50, bestNative?.totalMs.p50),
      browserOverNativeRunOnly: ratio(bestBrowser?.runMs.p50, bestNative?.runMs.p50),
    };
  }

  await attempt('capacity', async () => {
    const plan = q
      ? [
          { volunteers: 50, processes: 1, tasks: 500 },
          { volunteers: 200, processes: 2, tasks: 1000 },
        ]
      : [
          { volunteers: 1000, processes: 2, tasks: 10_000 },
          { volunteers: 10_000, processes: 4, tasks: 30_000 },
        ];
    const steps: CapacityResult[] = [];
    results.schedulerCapacity = steps;
    // TABGRID_BENCH_VOLUNTEERS=10000 runs only the steps of that size (profiling one step).
    const only = Number(process.env.TABGRID_BENCH_VOLUNTEERS ?? 0);
    for (const step of plan.filter((p) => !only || p.volunteers === only)) {
      log(`scheduler capacity: ${step.volunteers} simulated volunteers, ${step.tasks} tasks`);
      steps.push(
        await schedulerCapacity({
          ...step,
          answerDelayMs: 50,
          // TABGRID_BENCH_VERIFY=1: verification on (replicas, canaries, the referee's threads).
          verify: process.env.TABGRID_BENCH_VERIFY === '1',
          redis: process.env.TABGRID_BENCH_REDIS === '1',
          port: options.port + 1,
          timeoutMs: q ? 60_000 : 90_000,
        }),
      );
    }
  });

  await attempt('adversarial', async () => {
    // The long mode (TABGRID_BENCH_ADVERSARIAL=long) opens no tab.
    if (process.env.TABGRID_BENCH_ADVERSARIAL !== 'long') ensureWebBuild(log);
    results.adversarial = await adversarialSection({ quick: q, port: options.port + 2, log });
  });

  await attempt('scale', async () => {
    // TABGRID_BENCH_SCALE_VOLUNTEERS / _TASKS / _ROUNDS override the plan (e.g. a longer run).
    const env = (name: string, fallback: number) =>
      Number(process.env[`TABGRID_BENCH_SCALE_${name}`] || fallback);
    const plan = {
      volunteers: env('VOLUNTEERS', q ? 90 : 9000),
      tasks: env('TASKS', q ? 600 : 20_000),
      rounds: env('ROUNDS', q ? 1 : 3),
    };
    // TABGRID_BENCH_SCALE_SETUPS=sqlite,redis1,redis3 (ids in scale.ts) runs only those setups.
    const only = (process.env.TABGRID_BENCH_SCALE_SETUPS ?? '').split(',').filter(Boolean);
    const setups = SCALE_SETUPS.filter((s) => only.length === 0 || only.includes(s.id));
    const runs: ScaleResult[] = [];
    results.scale = { runs, medians: [] };
    for (let round = 1; round <= plan.rounds; round++) {
      for (const setup of setups) {
        log(
          `scale, round ${round}/${plan.rounds}: ${setup.name}, ${plan.volunteers} volunteers, ${plan.tasks} tasks`,
        );
        runs.push(
          await scaleRun({
            setup,
            volunteers: plan.volunteers,
            swarms: 3,
            tasks: plan.tasks,
            answerDelayMs: 50,
            basePort: options.port + 10,
            timeoutMs: q ? 60_000 : 120_000,
          }),
        );
      }
    }
    results.scale.medians = setups.flatMap((s) => medianRun(runs.filter((r) => r.setup === s.name)) ?? []);
  });

  for (const section of PROBE_SECTIONS)
    await attempt(section, async () => {
      log(`probe: ${section}`);
      await runProbe(section, { quick: q, port: options.port + 20 }, results.probes);
    });

  results.goals = goals(results);
  results.meta.durationSeconds = Math.round((Date.now() - started) / 1000);
  if (options.out) {
    mkdirSync(path.dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  }
  return results;
}

function goals(r: BenchResults): GoalRow[] {
  const e2e = r.endToEnd;
  const cached = r.coldStart?.find((c) => c.profile === 'cached');
  const largest = r.schedulerCapacity?.at(-1);
  const atScale = largest !== undefined && largest.volunteers >= 10_000;
  const check = (ok: boolean | null | undefined) => ok ?? null;
  const scale = r.scale?.medians ?? [];
  const sqlite1 = scale.find((s) => s.gateways === 1 && s.redis === null);
  const redis3 = scale.find((s) => s.gateways === 3);
  const capacityRatio =
    sqlite1 && redis3 ? redis3.tasksPerSecond / Math.max(1, sqlite1.tasksPerSecond) : null;
  const worstReads = scale.some((s) => s.redis)
    ? Math.max(...scale.flatMap((s) => (s.redis ? [s.redis.readsPerTask] : [])))
    : null;
  return [
    {
      goal: '3 gateways on Redis vs 1 process on SQLite (tasks/s, same run)',
      target: '>= 90 %',
      measured:
        capacityRatio === null || !sqlite1 || !redis3
          ? 'not run'
          : `${Math.round(capacityRatio * 100)} % (${redis3.tasksPerSecond} vs ${sqlite1.tasksPerSecond} tasks/s, medians)`,
      met: check(capacityRatio === null ? null : capacityRatio >= 0.9 && redis3!.completed),
      how: 'npm run bench -- --only=scale: simulated volunteers, tiny photos, uploads through gateway 1',
    },
    {
      goal: 'Redis round trips per task, amortized',
      target: '<= 4',
      measured: worstReads === null ? 'not run' : `${worstReads} read events/task (worst setup)`,
      met: check(worstReads === null ? null : worstReads <= 4),
      how: 'INFO stats total_reads_processed delta (one per request batch) / tasks, upload + run',
    },
    {
      goal: 'Ack latency p99 (2 browser tabs)',
      target: '<= 50 ms',
      measured: e2e ? `${e2e.ackMs.p99} ms (p50 ${e2e.ackMs.p50})` : 'not run',
      met: check(e2e && e2e.ackMs.p99 <= 50),
      how: 'API timings ackedAt - assignedAt, 100-photo job + single jobs',
    },
    {
      goal: 'Single-photo result, warm tab, p50',
      target: '<= 200 ms',
      measured: e2e ? `${e2e.singleResultMs.p50} ms (p99 ${e2e.singleResultMs.p99})` : 'not run',
      met: check(e2e && e2e.singleResultMs.p50 <= 200),
      how: 'API timings completedAt - submittedAt, single-photo jobs one after another',
    },
    {
      goal: 'Browser WASM vs native (per photo p50)',
      target: '<= 4x',
      measured:
        r.inference?.browserOverNative != null
          ? `${r.inference.browserOverNative}x (model only ${r.inference.browserOverNativeRunOnly}x)`
          : 'not run',
      met: check(r.inference?.browserOverNative != null ? r.inference.browserOverNative <= 4 : undefined),
      how: 'best Chromium thread config / best onnxruntime-node config, same photo, same run',
    },
    {
      goal: 'End-to-end efficiency',
      target: '>= 90 %',
      measured: e2e ? `${round1(e2e.efficiency * 100)} % (${e2e.throughput} photos/s)` : 'not run',
      met: check(e2e && e2e.efficiency >= 0.9),
      how: "batch throughput / sum of each tab's isolated self-test rate",
    },
    {
      goal: 'Scheduler throughput, 10,000 simulated volunteers',
      target: '>= 2,000 tasks/s',
      measured: largest ? `${largest.tasksPerSecond} tasks/s at ${largest.volunteers}` : 'not run',
      met: atScale ? largest.tasksPerSecond >= 2000 : null,
      how: 'socket.io-client peers answering after 50 ms; resume -> last result',
    },
    {
      goal: 'Memory per idle volunteer connection',
      target: '<= 20 KB',
      measured: largest
        ? `${largest.memory.rssPerVolunteerKB} KB RSS, ${largest.memory.heapPerVolunteerKB} KB heap at ${largest.volunteers}`
        : 'not run',
      met: atScale ? largest.memory.rssPerVolunteerKB <= 20 : null,
      how: 'server RSS after full GC, before/after connecting N idle peers, / N',
    },
    {
      goal: 'Cold start with the model cached',
      target: '<= 1.5 s',
      measured: cached ? `${cached.toFirstResultMs} ms (model ${cached.modelSource})` : 'not run',
      met: check(cached && cached.toFirstResultMs <= 1500),
      how: 'open /volunteer?autostart=1 with a task queued -> first result, persistent profile reopened',
    },
    ...adversarialGoals(r.adversarial),
  ];
}

// ------------------------------------------------------------------ rendering

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join(
    '\n',
  );
}

export function render(r: BenchResults): string {
  const out: string[] = [];
  const m = r.meta;
  out.push(
    `Tabgrid benchmark${m.quick ? ' (--quick)' : ''}: ${m.machine.cores} cores (${m.machine.cpuModel}), ` +
      `node ${m.versions.node}, onnxruntime-web ${m.versions.onnxruntimeWeb}, onnxruntime-node ${m.versions.onnxruntimeNode}, ` +
      `chromium ${m.versions.chromium}; load avg at start ${m.machine.loadAvg.join(' ')}`,
    m.note,
    '',
  );
  if (r.inference) {
    out.push(
      `Inference, YOLOX-Nano on ${r.inference.photo} (ms per photo: decode + letterbox + model + NMS)`,
    );
    out.push(
      table(
        ['runtime', 'threads', 'runs', 'p50', 'p95', 'model p50', 'load ms'],
        r.inference.configs.map((c) => [
          c.runtime,
          c.threads || 'default',
          c.runs,
          c.totalMs.p50,
          c.totalMs.p95,
          c.runMs.p50,
          c.loadMs,
        ]),
      ),
    );
    out.push(
      `browser / native: ${r.inference.browserOverNative ?? '-'}x per photo, ${r.inference.browserOverNativeRunOnly ?? '-'}x model only`,
      '',
    );
  }
  if (r.coldStart) {
    out.push('Cold start (open /volunteer?autostart=1 with a task queued -> first result)');
    out.push(
      table(
        ['profile', 'to first result ms', 'model load ms', 'model from', 'assign->stored ms'],
        r.coldStart.map((c) => [
          c.profile,
          c.toFirstResultMs,
          c.modelLoadMs ?? '-',
          c.modelSource ?? '-',
          c.assignToStoredMs ?? '-',
        ]),
      ),
      '',
    );
  }
  if (r.endToEnd) {
    const e = r.endToEnd;
    out.push(
      `End to end: ${e.tabs} Chromium tabs x ${e.threadsPerTab} thread, ${e.batchPhotos}-photo job then ${e.singleJobs} single-photo jobs`,
    );
    out.push(
      table(
        ['measure', 'p50', 'p99', 'n'],
        [
          ['ack latency ms', e.ackMs.p50, e.ackMs.p99, e.ackMs.n],
          ['result latency ms, single photo', e.singleResultMs.p50, e.singleResultMs.p99, e.singleResultMs.n],
          ['result latency ms, batch', e.batchResultMs.p50, e.batchResultMs.p99, e.batchResultMs.n],
        ],
      ),
    );
    out.push(
      `throughput ${e.throughput} photos/s; isolated tab rates ${e.isolatedRates.join(' + ')} photos/s; ` +
        `efficiency ${round1(e.efficiency * 100)} %; photos per tab ${e.perTab.join(' / ')}; failed ${e.failed}`,
      '',
    );
  }
  if (r.adversarial) out.push(...renderAdversarial(r.adversarial), '');
  if (r.schedulerCapacity) {
    out.push(
      'Scheduler capacity (simulated volunteers answer after 50 ms; server and swarm share the machine)',
    );
    out.push(
      table(
        [
          'volunteers',
          'tasks',
          'tasks/s',
          'steady/s',
          'dispatch p50/p99 ms',
          'ack p99 ms',
          'loop lag p99/max ms',
          'KB/conn RSS',
          'KB/conn heap',
          'requeued',
          'connect s',
          'server CPU ms/task',
        ],
        r.schedulerCapacity.map((c) => [
          c.volunteers,
          `${c.tasksDone}/${c.tasks}`,
          c.tasksPerSecond,
          c.steadyTasksPerSecond,
          `${c.dispatchOverheadMs.p50} / ${c.dispatchOverheadMs.p99}`,
          c.ackMs.p99,
          `${c.eventLoopLagMs.p99} / ${c.eventLoopLagMs.max}`,
          c.memory.rssPerVolunteerKB,
          c.memory.heapPerVolunteerKB,
          c.requeued,
          c.connectSeconds,
          c.serverCpuMsPerTask,
        ]),
      ),
      '',
    );
  }
  if (r.scale) {
    out.push(
      'Scale-out (simulated volunteers answer after 50 ms; gateways, swarms and Redis share the machine)',
    );
    out.push(
      table(
        [
          'setup',
          'volunteers',
          'tasks',
          'tasks/s',
          'steady/s',
          'ack p50/p99 ms',
          'requeued',
          'KB/conn RSS',
          'Redis cmds/task incl. Lua (upload+run)',
          'Redis reads/task',
        ],
        r.scale.runs.map((c) => [
          c.setup,
          `${c.connected}/${c.volunteers}`,
          `${c.tasksDone}/${c.tasks}`,
          c.tasksPerSecond,
          c.steadyTasksPerSecond,
          `${c.ackMs.p50} / ${c.ackMs.p99}`,
          c.requeued,
          c.rssPerConnectionKB,
          c.redis ? `${c.redis.commandsPerTask.upload} + ${c.redis.commandsPerTask.run}` : '-',
          c.redis ? c.redis.readsPerTask : '-',
        ]),
      ),
      `medians (tasks/s): ${r.scale.medians.map((m) => `${m.setup} ${m.tasksPerSecond}`).join(', ')}`,
      '',
    );
  }
  out.push(...renderProbes(r.probes));
  for (const e of r.errors) out.push(`FAILED section ${e.section}: ${e.message}`, '');
  out.push('Goals');
  out.push(
    table(
      ['goal', 'target', 'measured', 'met?'],
      r.goals.map((g) => [g.goal, g.target, g.measured, g.met === null ? 'n/a' : g.met ? 'yes' : 'NO']),
    ),
  );
  return out.join('\n');
}
