/**
 * Technique 4: prefetch (maxInFlight 2, the default) vs 1 task in flight per volunteer.
 * In-process server (`startServer({...DEFAULT_CONFIG, maxInFlight})`, a configuration value),
 * one simulated volunteer (socket.io-client) that works on one task at a time for WORK ms,
 * with LATENCY ms added on each direction (assign received late, result sent late).
 * Throughput = tasks / (first assign -> last result accepted).
 *
 *   npx tsx bench/experiments/prefetch.ts [tasks=50] [workMs=80] [latencyMs=20] [rounds=3]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROTOCOL_VERSION, type TaskAssignment } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { startServer } from '../../apps/server/src/app';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { benchAuth, benchServerConfig } from '../lib/bench-key';
import { imagesDir, REPO_ROOT } from '../../scripts/assets';
import { sleep } from '../lib/stats';

const [TASKS, WORK, LATENCY, ROUNDS] = [50, 80, 20, 3].map((d, i) => Number(process.argv[2 + i] ?? d)) as [
  number,
  number,
  number,
  number,
];
const photo = readFileSync(path.join(imagesDir(), 'bus.jpg'));

async function once(maxInFlight: number, latency: number): Promise<number> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-prefetch-'));
  const tg = await startServer({
    ...DEFAULT_CONFIG,
    ...benchServerConfig(),
    port: 0,
    host: '127.0.0.1',
    dataDir,
    logLevel: 'warn',
    maxInFlight,
    staticDir: path.join(REPO_ROOT, 'dist'),
    modelDir: path.join(REPO_ROOT, 'public/models'),
  });
  try {
    const socket = io(`${tg.url}/volunteer`, {
      auth: {
        protocolVersion: PROTOCOL_VERSION,
        kind: 'agent',
        runtime: 'prefetch-exp',
      },
      transports: ['websocket'],
      reconnection: false,
    });
    await new Promise<void>((r) => socket.once('hello', () => r()));
    let done = 0;
    let first = 0;
    let last = 0;
    // A single worker: tasks queue locally and run one at a time.
    let busy: Promise<void> = Promise.resolve();
    socket.on('task:assign', (task: TaskAssignment, ack: (a: unknown) => void) => {
      ack({ ok: true, data: { accepted: true } });
      setTimeout(() => {
        if (first === 0) first = performance.now();
        busy = busy.then(async () => {
          await sleep(WORK);
          setTimeout(() => {
            socket.emit(
              'task:result',
              { assignmentId: task.assignmentId, detections: [], inferenceMs: WORK },
              (a: { ok: boolean }) => {
                if (a.ok) done++;
                last = performance.now();
              },
            );
          }, latency);
        });
      }, latency);
    });
    await new Promise<void>((r) => socket.emit('volunteer:state', { accepting: true }, () => r()));
    const form = new FormData();
    for (let i = 0; i < TASKS; i++)
      form.append('images', new Blob([photo], { type: 'image/jpeg' }), `p${i}.jpg`);
    const t0 = performance.now();
    const res = await fetch(`${tg.url}/api/jobs`, { method: 'POST', body: form, headers: benchAuth });
    if (res.status !== 201) throw new Error(`upload ${res.status}`);
    while (done < TASKS) {
      if (performance.now() - t0 > 60_000) throw new Error(`timeout, done ${done}`);
      await sleep(5);
    }
    socket.close();
    return TASKS / ((last - first) / 1000);
  } finally {
    await tg.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const out: Record<string, number[]> = {};
  for (const latency of [LATENCY, 0]) {
    for (let r = 0; r < ROUNDS; r++) {
      for (const m of [1, 2]) {
        const key = `maxInFlight=${m} latency=${latency}ms`;
        (out[key] ??= []).push(Math.round((await once(m, latency)) * 100) / 100);
      }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    JSON.stringify(
      {
        tasks: TASKS,
        workMs: WORK,
        ideal: 1000 / WORK,
        photosPerSecond: out,
        medians: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, med(v)])),
      },
      null,
      2,
    ),
  );
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
