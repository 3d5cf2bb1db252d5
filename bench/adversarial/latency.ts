/**
 * Requester-visible latency with verification on against off, same machine, same bench run:
 * one warm Chromium tab alone on a fresh server, single-photo jobs one after another, latency
 * from the API timings (completedAt - submittedAt: when the result became final). With
 * verification on, the tab is first made trusted and taken past the trust ramp (warm-up batches
 * the referee verifies), so what is measured is a trusted volunteer's single photo in its steady
 * state: final at once, except the spot checks (5 %), which wait for the referee. Rounds alternate off/on; each run's median is kept.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Browser } from '@playwright/test';
import { percentile } from '../lib/stats';
import { startBenchServer, type BenchServer } from '../lib/server';
import { openVolunteerTab } from './tab';

export interface LatencyRun {
  verification: boolean;
  /** Whether the tab's identity was trusted when the singles ran (verification on only). */
  trusted: boolean | null;
  singles: number;
  p50Ms: number;
  p95Ms: number;
  /** How the singles' results were verified (`trusted`, `spot-checked`, `refereed`…, or `off`). */
  verifications: Record<string, number>;
}

export interface LatencyFigures {
  runs: LatencyRun[];
  /** Median over runs of each run's p50, ms. */
  offP50Ms: number | null;
  onP50Ms: number | null;
}

/** The one volunteer's streak, and whether it is trusted (null: no volunteer yet). */
function reputation(dataDir: string): { trusted: boolean; streak: number } | null {
  const db = new Database(path.join(dataDir, 'tabgrid.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT trusted_at, streak FROM volunteer_reputation').all() as {
      trusted_at: number | null;
      streak: number;
    }[];
    return rows.length === 1 ? { trusted: rows[0]!.trusted_at !== null, streak: rows[0]!.streak } : null;
  } finally {
    db.close();
  }
}

/** The product's trust ramp (TABGRID_TRUST_RAMP_CHECKS default): the warm-up goes past it. */
const RAMP_CHECKS = 40;

async function oneRun(
  browser: Browser,
  port: number,
  photo: Uint8Array,
  verification: boolean,
  singles: number,
  trustStreak: number,
): Promise<LatencyRun> {
  const server: BenchServer = await startBenchServer({
    port,
    env: { TABGRID_VERIFICATION: verification ? '1' : '0', TABGRID_DISTINCT_NETWORKS: '0' },
  });
  try {
    const tab = await openVolunteerTab(browser, server.url);
    try {
      // Warm-up: with verification, enough verified agreements (the referee's) to be trusted and
      // past the trust ramp (a newly trusted volunteer is spot-checked at 50 %), so what is
      // measured is a trusted volunteer in its steady state.
      const target = verification ? trustStreak + RAMP_CHECKS : 0;
      let batch = 0;
      do {
        const warm = await server.upload(
          Array.from({ length: verification ? 20 : 3 }, (_, i) => ({
            name: `warm-${batch}-${i}.jpg`,
            bytes: photo,
          })),
        );
        await server.waitForJob(warm.id, 180_000, 100);
        batch++;
      } while (verification && (reputation(server.dataDir)?.streak ?? 0) < target && batch < 20);
      const isTrusted = verification ? (reputation(server.dataDir)?.trusted ?? false) : null;
      const latencies: number[] = [];
      const verifications: Record<string, number> = {};
      for (let i = 0; i < singles; i++) {
        const job = await server.upload([{ name: `single-${i}.jpg`, bytes: photo }]);
        const done = await server.waitForJob(job.id, 60_000, 10);
        const t = done.tasks[0]!;
        if (t.timings.completedAt !== null && t.timings.submittedAt !== null)
          latencies.push(t.timings.completedAt - t.timings.submittedAt);
        const how = t.verification ?? 'off';
        verifications[how] = (verifications[how] ?? 0) + 1;
      }
      return {
        verification,
        trusted: isTrusted,
        singles: latencies.length,
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        verifications,
      };
    } finally {
      await tab.stop();
    }
  } finally {
    await server.stop();
  }
}

export async function latencyOnOff(
  browser: Browser,
  port: number,
  photo: Uint8Array,
  options: { rounds: number; singles: number; trustStreak?: number; log?: (line: string) => void },
): Promise<LatencyFigures> {
  const runs: LatencyRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const verification of [false, true]) {
      options.log?.(
        `latency: round ${round + 1}/${options.rounds}, verification ${verification ? 'on' : 'off'}`,
      );
      runs.push(await oneRun(browser, port, photo, verification, options.singles, options.trustStreak ?? 10));
    }
  }
  const median = (on: boolean) => {
    const p50s = runs.filter((r) => r.verification === on).map((r) => r.p50Ms);
    return p50s.length ? percentile(p50s, 50) : null;
  };
  return { runs, offP50Ms: median(false), onP50Ms: median(true) };
}
