/**
 * A lone new volunteer's photo: how long from upload to final (issue 18, rule V5). One in-process
 * server (SQLite, verification on, production defaults for the replica wait, distinct networks
 * and canaries) and one headless agent, a new identity per round; three single-photo jobs one
 * after another per round. Prints `round photo verification ms` (completedAt - submittedAt).
 *
 *   npx tsx bench/experiments/lone-volunteer.ts [rounds=4]
 */
import type { Agent } from '../../apps/agent/src/agent';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { startHonestAgent } from '../../apps/server/test/support/honest-agent';
import { startTestServer } from '../../apps/server/test/support/harness';
import { sampleImages } from '../../scripts/assets';

const rounds = Number(process.argv[2] ?? 4);
const times: number[] = [];
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
      times.push(ms);
      console.log(`${round} ${image.name} ${t.verification} ${ms}`);
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await server.close();
  }
}
times.sort((a, b) => a - b);
console.log(`p50 ${times[Math.floor(times.length / 2)]} ms, min ${times[0]}, max ${times[times.length - 1]}`);
