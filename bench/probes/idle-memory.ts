/**
 * `--only=idle-memory`: what one idle volunteer connection costs the server (issue 18: <= 10 KB).
 * The real server as a child process (product defaults: verification on), N simulated volunteers
 * connect as new identities (bench/sim/volunteer-swarm.ts: handshake, `hello`, no tasks), and the
 * server's RSS and heap are read after a forced full GC before and after (--expose-gc).
 *
 *   npm run bench -- --only=idle-memory   (1,000 and 5,000 volunteers, 2 rounds each;
 *   --quick: 500, 1 round; TABGRID_BENCH_IDLE_VOLUNTEERS=1000,5000 / _ROUNDS override)
 *   TABGRID_BENCH_IDLE_SNAPSHOTS=dir   also writes the server's heap before and after to
 *   dir/idle-<N>-before.heapsnapshot / -after (compare them by constructor in DevTools' Memory tab)
 */
import path from 'node:path';
import { startBenchServer } from '../lib/server';
import { round1, sleep } from '../lib/stats';
import { startSwarm, stopSwarms, type Swarm } from '../lib/swarm';

export interface IdleMemoryRound {
  volunteers: number;
  connected: number;
  rssKBPerConnection: number;
  heapKBPerConnection: number;
  externalKBPerConnection: number;
}

const KB = 1024;
/** Volunteers per swarm process. */
const PER_PROCESS = 2500;

async function round(volunteers: number, port: number, snapshots: string): Promise<IdleMemoryRound> {
  const server = await startBenchServer({ port, env: { LOG_LEVEL: 'error' } });
  const swarms: Swarm[] = [];
  try {
    await sleep(500);
    const snapshot = (when: string) =>
      snapshots
        ? server.heapSnapshot(path.resolve(snapshots, `idle-${volunteers}-${when}.heapsnapshot`))
        : null;
    await snapshot('before');
    const before = await server.memory();
    const processes = Math.ceil(volunteers / PER_PROCESS);
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(volunteers / processes) + (p < volunteers % processes ? 1 : 0);
      swarms.push(startSwarm(server.url, count, `idle${p}`, 50));
    }
    const joined = await Promise.all(
      swarms.map((s) => s.request<{ ok: number }>({ type: 'connect' }, 'connected')),
    );
    const connected = joined.reduce((a, j) => a + j.ok, 0);
    await sleep(1000);
    const after = await server.memory();
    await snapshot('after');
    const per = (a: number, b: number) => round1((a - b) / KB / Math.max(1, connected));
    return {
      volunteers,
      connected,
      rssKBPerConnection: per(after.rss, before.rss),
      heapKBPerConnection: per(after.heapUsed, before.heapUsed),
      externalKBPerConnection: per(after.external, before.external),
    };
  } finally {
    await stopSwarms(swarms);
    await server.stop();
  }
}

export async function idleMemory(quick: boolean, port: number): Promise<IdleMemoryRound[]> {
  const sizes = (process.env.TABGRID_BENCH_IDLE_VOLUNTEERS ?? (quick ? '500' : '1000,5000'))
    .split(',')
    .map(Number);
  const rounds = Number(process.env.TABGRID_BENCH_IDLE_ROUNDS ?? (quick ? 1 : 2));
  const snapshots = process.env.TABGRID_BENCH_IDLE_SNAPSHOTS ?? '';
  const out: IdleMemoryRound[] = [];
  for (let r = 0; r < rounds; r++) for (const n of sizes) out.push(await round(n, port, snapshots));
  return out;
}

export function renderIdleMemory(rounds: IdleMemoryRound[]): string[] {
  return [
    '## Idle volunteer connections (--only=idle-memory; after a full GC, delta / connections)',
    '',
    '| volunteers | connected | KB RSS | KB heap | KB external |',
    '| --- | --- | --- | --- | --- |',
    ...rounds.map(
      (r) =>
        `| ${r.volunteers} | ${r.connected} | ${r.rssKBPerConnection} | ${r.heapKBPerConnection} | ${r.externalKBPerConnection} |`,
    ),
  ];
}
