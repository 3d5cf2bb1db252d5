/**
 * `npm run bench -- --only=adversarial`: the adversarial suite at bench scale (issue 7, section 5)
 * and the latency of a trusted volunteer's single photo with verification on against off.
 *
 * Scale (full): 40 honest identities (39 agent processes + 1 Chromium tab) and 10 liar
 * identities (20 %): one of each constant kind and two turncoats (10 % and 1 %), plus an
 * attacker trying to take over an honest agent's id. 500 photos (`maxTasks` would let the run go on
 * while a turncoat is at large; on this loaded 2-core machine there was no time for it). Verification on with the product's defaults (trust streak 10,
 * 5 % spot-check floor, referee after 3 s at 10 runs/s), `TABGRID_DISTINCT_NETWORKS=0` and no
 * per-address limits (everyone is on 127.0.0.1). The assignment cap (T4a) is 30 s instead of
 * 10 min, so the ack-and-stall liar's tasks come back within the run.
 *
 * Long mode (`TABGRID_BENCH_ADVERSARIAL=long`): the overhead once trusted in its steady state. The
 * full run gives each honest volunteer about 12 tasks, all within the trust ramp (rule V4: about
 * 40 checks at 50 % after trust), so its "overhead once trusted" is the ramp's cost. Long mode has
 * few honest agents (4, `TABGRID_BENCH_ADVERSARIAL_AGENTS`), no tab, the constant liars, the
 * takeover and the 10 % turncoat, and many photos (800, `TABGRID_BENCH_ADVERSARIAL_PHOTOS`), so
 * that each agent passes the ramp and then does a few hundred tasks past it; no latency runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleImage } from '../../scripts/assets';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { BENCH_KEY } from '../lib/bench-key';
import { launchBrowser } from '../lib/browser';
import { value } from '../lib/prom';
import { startBenchServer } from '../lib/server';
import { CONSTANT_KINDS } from './kinds';
import { latencyOnOff, type LatencyFigures } from './latency';
import { computeFigures, type AdversarialFigures } from './report';
import { runSuite, type LiarSpec } from './suite';
import { openVolunteerTab } from './tab';

export interface AdversarialResult {
  setup: {
    /** `long`: the steady-state run (TABGRID_BENCH_ADVERSARIAL=long). */
    mode: 'full' | 'quick' | 'long';
    honestAgents: number;
    browserTabs: number;
    liars: LiarSpec[];
    minTasks: number;
    maxTasks: number;
    serverEnv: Record<string, string>;
  };
  figures: AdversarialFigures;
  latency: LatencyFigures | null;
}

export const ADVERSARIAL_SERVER_ENV = {
  TABGRID_VERIFICATION: '1',
  TABGRID_DISTINCT_NETWORKS: '0',
  TABGRID_MAX_ASSIGNMENT_MS: '30000',
};

export async function adversarialSection(options: {
  quick: boolean;
  port: number;
  log: (line: string) => void;
}): Promise<AdversarialResult> {
  const long = process.env.TABGRID_BENCH_ADVERSARIAL === 'long';
  const q = options.quick && !long;
  const envNumber = (name: string, fallback: number) =>
    Number(process.env[`TABGRID_BENCH_ADVERSARIAL_${name}`] || fallback);
  const liars: LiarSpec[] = [
    ...CONSTANT_KINDS.map((kind) => ({ kind })),
    { kind: 'takeover' },
    { kind: 'turncoat', lieRate: 0.1 },
    ...(long ? [] : [{ kind: 'turncoat', lieRate: 0.01 } as const]),
  ];
  const photos = long ? envNumber('PHOTOS', 800) : q ? 60 : 500;
  const setup: AdversarialResult['setup'] = {
    mode: long ? 'long' : q ? 'quick' : 'full',
    honestAgents: long ? envNumber('AGENTS', 4) : q ? 7 : 39,
    browserTabs: long ? 0 : 1,
    liars,
    minTasks: photos,
    maxTasks: long ? photos : q ? 150 : 500,
    serverEnv: ADVERSARIAL_SERVER_ENV,
  };
  // Where the server's trust ramp ends (its config, with the environment it inherits).
  const rampEnv = { ...process.env, ...ADVERSARIAL_SERVER_ENV } as Record<string, string | undefined>;
  const setting = (name: string, fallback: number) => Number(rampEnv[name] || fallback);
  const rampEndsAtStreak =
    setting('TABGRID_TRUST_STREAK', DEFAULT_CONFIG.trustStreak) +
    setting('TABGRID_TRUST_RAMP_CHECKS', DEFAULT_CONFIG.trustRampChecks);
  const browser = setup.browserTabs > 0 ? await launchBrowser() : null;
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-adversarial-'));
  try {
    const server = await startBenchServer({ port: options.port, env: ADVERSARIAL_SERVER_ENV });
    let figures: AdversarialFigures;
    try {
      const observed = await runSuite({
        server: { url: server.url, dataDir: server.dataDir },
        apiKey: BENCH_KEY.key,
        tasks: setup.minTasks,
        maxTasks: setup.maxTasks,
        wave: q ? 20 : 50,
        honestAgents: setup.honestAgents,
        liars,
        ...(setup.browserTabs > 0 ? { extraHonest: () => openVolunteerTab(browser!, server.url) } : {}),
        workDir,
        timeoutMs: q ? 600_000 : 2_400_000,
        rampEndsAtStreak,
        log: options.log,
      });
      const m = await server.metrics().catch(() => null);
      observed.canaries = m && {
        passed: value(m, 'tabgrid_canaries_total{outcome="passed"}') || 0,
        failed: value(m, 'tabgrid_canaries_total{outcome="failed"}') || 0,
        refereeRuns: value(m, 'tabgrid_referee_inferences_total{purpose="canary"}') || 0,
      };
      figures = computeFigures(observed);
    } finally {
      await server.stop();
    }
    if (!browser) return { setup, figures, latency: null };
    const latency = await latencyOnOff(
      browser,
      options.port + 1,
      new Uint8Array(readFileSync(sampleImage('bus.jpg'))),
      {
        rounds: q ? 1 : 2,
        singles: q ? 5 : 10,
        log: options.log,
      },
    );
    return { setup, figures, latency };
  } finally {
    await browser?.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}
