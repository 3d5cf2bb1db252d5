/**
 * Technique 9: Socket.IO's default parser vs socket.io-msgpack-parser (server and peers alike).
 * In-process server (`startServer({...DEFAULT_CONFIG, socketParser})`, an opt-in configuration
 * value), N simulated volunteers in one child process (bench/sim/volunteer-swarm.ts --parser=...)
 * that ack at once and answer each task after 0-5 ms. Per run: connect, pause the peers, queue the
 * tasks over the HTTP API, resume and time until every result is stored.
 *
 * Reported per run: tasks/s (resume -> last result), this process's CPU time per task over that
 * window (the server; the only other work here is polling the swarm over IPC), the swarm's CPU per
 * task, Engine.IO payload bytes per task in each direction as seen by the peers, requeues.
 * Variants alternate within each round; medians over the rounds.
 *
 * Workloads: a 64x48 JPEG (287 B), 000004.jpg (~100 KB) and bus.jpg (487 KB), the sample photos.
 *
 *   npx tsx bench/experiments/parser.ts [volunteers=200] [smallTasks=2000] [busTasks=400] [rounds=3] [midTasks=1000]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startServer } from '../../apps/server/src/app';
import { DEFAULT_CONFIG } from '../../apps/server/src/config';
import { benchAuth, benchServerConfig } from '../lib/bench-key';
import { imagesDir, REPO_ROOT } from '../../scripts/assets';
import { sleep } from '../lib/stats';

type Parser = 'default' | 'msgpack';
const [VOLUNTEERS, SMALL, IMAGES, ROUNDS, MID] = [200, 2000, 400, 3, 1000].map((d, i) =>
  Number(process.argv[2 + i] ?? d),
) as [number, number, number, number, number];

interface SwarmStats {
  done: number;
  errors: number;
  rxBytes: number;
  txBytes: number;
  cpuUs: number;
}

interface RunResult {
  tasksPerSecond: number;
  serverCpuMsPerTask: number;
  swarmCpuMsPerTask: number;
  rxBytesPerTask: number;
  txBytesPerTask: number;
  requeued: number;
}

function swarm(url: string, parser: Parser) {
  const child = fork(
    'bench/sim/volunteer-swarm.ts',
    [url, String(VOLUNTEERS), `px-${parser}`, '0-5', `--parser=${parser}`],
    { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const request = <T>(msg: object, replyType: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if ((m as { type?: string }).type !== replyType) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null) => reject(new Error(`swarm exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(msg);
    });
  const close = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.send({ type: 'close' });
      setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5000).unref();
    });
  return { request, close };
}

async function once(parser: Parser, photo: Uint8Array, tasks: number): Promise<RunResult> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-parser-'));
  const tg = await startServer({
    ...DEFAULT_CONFIG,
    ...benchServerConfig(),
    port: 0,
    host: '127.0.0.1',
    dataDir,
    logLevel: 'silent',
    maxQueued: tasks + 1000,
    socketParser: parser,
    staticDir: path.join(REPO_ROOT, 'dist'),
    modelDir: path.join(REPO_ROOT, 'public/models'),
  });
  const peers = swarm(tg.url, parser);
  try {
    const joined = await peers.request<{ ok: number; failed: number }>({ type: 'connect' }, 'connected');
    if (joined.ok !== VOLUNTEERS) throw new Error(`only ${joined.ok} of ${VOLUNTEERS} peers connected`);
    await peers.request({ type: 'state', accepting: false }, 'state-sent');
    await sleep(500);
    for (let b = 0; b * 100 < tasks; b++) {
      const form = new FormData();
      for (let i = 0; i < Math.min(100, tasks - b * 100); i++)
        form.append(
          'images',
          new Blob([photo as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
          `p${b}-${i}.jpg`,
        );
      const res = await fetch(`${tg.url}/api/jobs`, { method: 'POST', body: form, headers: benchAuth });
      if (res.status !== 201) throw new Error(`upload ${res.status}: ${await res.text()}`);
    }
    const requeuedBefore = await requeuedCount(tg.url);
    const s0 = await peers.request<SwarmStats>({ type: 'stats' }, 'stats');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await peers.request({ type: 'state', accepting: true }, 'state-sent');
    let s1 = s0;
    while (s1.done - s0.done < tasks) {
      if (performance.now() - t0 > 120_000) throw new Error(`timeout: ${s1.done - s0.done} of ${tasks}`);
      await sleep(20);
      s1 = await peers.request<SwarmStats>({ type: 'stats' }, 'stats');
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      tasksPerSecond: tasks / seconds,
      serverCpuMsPerTask: (cpu.user + cpu.system) / 1000 / tasks,
      swarmCpuMsPerTask: (s1.cpuUs - s0.cpuUs) / 1000 / tasks,
      rxBytesPerTask: (s1.rxBytes - s0.rxBytes) / tasks,
      txBytesPerTask: (s1.txBytes - s0.txBytes) / tasks,
      requeued: (await requeuedCount(tg.url)) - requeuedBefore,
    };
  } finally {
    await peers.close();
    await tg.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function requeuedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: benchAuth })).text();
  let n = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('tabgrid_tasks_total{') && line.includes('outcome="requeued"'))
      n += Number(line.split(' ').at(-1));
  return n;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

async function main() {
  const tiny = new Uint8Array(
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
      .jpeg()
      .toBuffer(),
  );
  const bus = new Uint8Array(readFileSync(path.join(imagesDir(), 'bus.jpg')));
  const mid = new Uint8Array(readFileSync(path.join(imagesDir(), '000004.jpg')));
  const workloads = [
    { name: `small (${tiny.byteLength} B) x ${SMALL}`, photo: tiny, tasks: SMALL },
    { name: `000004.jpg (${mid.byteLength} B) x ${MID}`, photo: mid, tasks: MID },
    { name: `bus.jpg (${bus.byteLength} B) x ${IMAGES}`, photo: bus, tasks: IMAGES },
  ].filter((w) => w.tasks > 0);
  const runs: Record<string, RunResult[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const w of workloads) {
      // Alternate which variant goes first.
      const order: Parser[] = r % 2 === 0 ? ['default', 'msgpack'] : ['msgpack', 'default'];
      for (const parser of order) {
        const result = await once(parser, w.photo, w.tasks);
        (runs[`${w.name} ${parser}`] ??= []).push(result);
        console.error(`round ${r + 1} ${w.name} ${parser}: ${JSON.stringify(result)}`);
      }
    }
  }
  const medians = Object.fromEntries(
    Object.entries(runs).map(([key, rs]) => [
      key,
      Object.fromEntries(
        (Object.keys(rs[0]!) as (keyof RunResult)[]).map((k) => [k, round(median(rs.map((x) => x[k])), 3)]),
      ),
    ]),
  );
  console.log(
    JSON.stringify({ volunteers: VOLUNTEERS, rounds: ROUNDS, cores: os.cpus().length, medians }, null, 2),
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
