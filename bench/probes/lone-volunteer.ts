/**
 * `--only=lone-volunteer`: a lone new volunteer's photo, from upload to final (issue 18, rule V5).
 * One in-process server (SQLite, verification on, production defaults for the replica wait,
 * distinct networks and canaries) and one headless agent, a new identity per round; three
 * single-photo jobs one after another per round (completedAt - submittedAt).
 */
import type { Agent } from '../../apps/agent/src/agent';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { startHonestAgent } from '../../apps/server/test/support/honest-agent';
import { startTestServer } from '../../apps/server/test/support/harness';
import { sampleImages } from '../../scripts/assets';
import { percentile } from '../lib/stats';

export interface LoneVolunteerResult {
  photos: { round: number; photo: string; verification: string; ms: number }[];
  p50Ms: number;
  minMs: number;
  maxMs: number;
}

export async function loneVolunteer(rounds: number): Promise<LoneVolunteerResult> {
  const photos: LoneVolunteerResult['photos'] = [];
  for (let round = 0; round < rounds; round++) {
    const server = await startTestServer({
      verification: true,
      refereeAfterMs: DEFAULT_CONFIG.refereeAfterMs,
      distinctNetworks: DEFAULT_CONFIG.distinctNetworks,
      canaryPercent: DEFAULT_CONFIG.canaryPercent,
    });
    const agents: Agent[] = [];
    try {
      await startHonestAgent(server.url, agents);
      for (const image of sampleImages().slice(0, 3)) {
        const job = await server.createJob([image.name]);
        const t = (await server.waitForJob(job.id, 30_000)).tasks[0]!;
        const ms = t.timings.completedAt! - t.timings.submittedAt!;
        photos.push({ round, photo: image.name, verification: String(t.verification), ms });
      }
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await server.close();
    }
  }
  const ms = photos.map((p) => p.ms);
  return { photos, p50Ms: percentile(ms, 50), minMs: Math.min(...ms), maxMs: Math.max(...ms) };
}

export const renderLoneVolunteer = (r: LoneVolunteerResult): string[] => [
  `Lone new volunteer, upload -> final (V5): p50 ${r.p50Ms} ms, min ${r.minMs}, max ${r.maxMs} ` +
    `(${r.photos.length} photos; ${r.photos.map((p) => p.verification).join(', ')})`,
];
