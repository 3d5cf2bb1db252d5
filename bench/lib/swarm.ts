/**
 * A child process of simulated volunteers (bench/sim/volunteer-swarm.ts) driven over IPC: used by
 * the capacity and scale sections.
 */
import { fork, type ChildProcess } from 'node:child_process';
import sharp from 'sharp';
import { REPO_ROOT } from '../../scripts/assets';

export interface Swarm {
  child: ChildProcess;
  request<T>(msg: object, replyType: string): Promise<T>;
}

/** `count` peers on `url`'s `/volunteer`, ids `prefix-i`, each answering after `delayMs`. */
export function startSwarm(url: string, count: number, prefix: string, delayMs: number): Swarm {
  const child = fork('bench/sim/volunteer-swarm.ts', [url, String(count), prefix, String(delayMs)], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    child,
    request<T>(msg: object, replyType: string) {
      return new Promise<T>((resolve, reject) => {
        const onMessage = (m: unknown) => {
          if ((m as { type?: string }).type !== replyType) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m as T);
        };
        const onExit = (code: number | null) => reject(new Error(`volunteer swarm exited with ${code}`));
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send(msg);
      });
    },
  };
}

/** Asks every swarm to close its peers; kills it after 5 s. */
export async function stopSwarms(swarms: readonly Swarm[]): Promise<void> {
  await Promise.all(
    swarms.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.child.exitCode !== null) return resolve();
          s.child.once('exit', () => resolve());
          s.child.send({ type: 'close' });
          setTimeout(() => {
            s.child.kill('SIGKILL');
            resolve();
          }, 5000).unref();
        }),
    ),
  );
}

/** What `releaseAndTrack` saw: results stored over time, in the swarms' own counts. */
export interface SwarmProgress {
  samples: { t: number; done: number }[];
  done: number;
  runSeconds: number;
  /** Tasks/s between 10 % and 90 % of the tasks done (NaN when the run did not get there). */
  steadyTasksPerSecond: number;
}

/**
 * Lets every swarm accept work again and polls their result counts every 100 ms until `tasks`
 * results are in, `timeoutMs` has passed, or none came for `stallMs`.
 */
export async function releaseAndTrack(
  swarms: readonly Swarm[],
  tasks: number,
  timeoutMs: number,
  stallMs: number,
): Promise<SwarmProgress> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const start = performance.now();
  await Promise.all(swarms.map((s) => s.request({ type: 'state', accepting: true }, 'state-sent')));
  const samples: { t: number; done: number }[] = [];
  let done = 0;
  let lastProgress = performance.now();
  while (
    done < tasks &&
    performance.now() - start < timeoutMs &&
    performance.now() - lastProgress < stallMs
  ) {
    await sleep(100);
    const stats = await Promise.all(
      swarms.map((s) => s.request<{ done: number }>({ type: 'stats' }, 'stats')),
    );
    const now = stats.reduce((a, s) => a + s.done, 0);
    if (now > done) lastProgress = performance.now();
    done = now;
    samples.push({ t: performance.now() - start, done });
  }
  const crossing = (fraction: number) => samples.find((s) => s.done >= fraction * tasks);
  const a = crossing(0.1);
  const b = crossing(0.9);
  return {
    samples,
    done,
    runSeconds: (samples.at(-1)?.t ?? 0) / 1000,
    steadyTasksPerSecond: a && b && b.t > a.t ? (b.done - a.done) / ((b.t - a.t) / 1000) : Number.NaN,
  };
}

/** Tasks requeued and failed between two scrapes of `tabgrid_tasks_total` (summed over gateways). */
export function taskOutcomes(
  m0: ReadonlyMap<string, number>,
  m1: ReadonlyMap<string, number>,
): { requeued: number; failed: number } {
  let requeued = 0;
  let failed = 0;
  for (const [key, v] of m1) {
    if (!key.startsWith('tabgrid_tasks_total{')) continue;
    if (key.includes('outcome="requeued"')) requeued += v - (m0.get(key) ?? 0);
    if (key.includes('outcome="failed"')) failed += v - (m0.get(key) ?? 0);
  }
  return { requeued, failed };
}

/** The tiny photo (64×48 JPEG) the capacity and scale sections queue: they measure dispatch, not inference. */
export async function tinyPhoto(): Promise<Uint8Array> {
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#6a8' } })
    .jpeg()
    .toBuffer();
  return new Uint8Array(jpeg);
}

/** Queues `tasks` copies of `photo` as jobs of 100, two uploads in flight at a time. */
export async function queuePhotos(
  upload: (files: { name: string; bytes: Uint8Array }[]) => Promise<unknown>,
  photo: Uint8Array,
  tasks: number,
): Promise<void> {
  const batches = Math.ceil(tasks / 100);
  let nextBatch = 0;
  const uploader = async () => {
    while (nextBatch < batches) {
      const b = nextBatch++;
      const size = Math.min(100, tasks - b * 100);
      await upload(Array.from({ length: size }, (_, i) => ({ name: `p${b}-${i}.jpg`, bytes: photo })));
    }
  };
  await Promise.all([uploader(), uploader()]);
}
