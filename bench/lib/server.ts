/**
 * The real server as a child process (fresh data dir), for every benchmark
 * section: started with `--expose-gc` and the IPC memory probe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { JobCreatedSchema, JobViewSchema, type JobCreated, type JobView } from '@tabgrid/protocol';
import { REPO_ROOT } from '../../scripts/assets';
import { benchAuth, benchServerEnv } from './bench-key';
import { parseProm, type Samples } from './prom';
import { sleep, waitFor } from './stats';

export interface MemoryProbe {
  rss: number;
  heapUsed: number;
  external: number;
  gc: boolean;
}

export interface BenchServer {
  url: string;
  port: number;
  pid: number;
  /** The server's fresh data directory (its SQLite database), removed by `stop()`. */
  dataDir: string;
  metrics(): Promise<Samples>;
  memory(): Promise<MemoryProbe>;
  /** SQLite commits the server process made so far (bench/sim/server-probe.ts). */
  commits(): Promise<number>;
  /** A full GC, then a V8 heap snapshot of the server written to `file` (bench/sim/server-probe.ts). */
  heapSnapshot(file: string): Promise<void>;
  upload(files: { name: string; bytes: Uint8Array }[]): Promise<JobCreated>;
  getJob(id: string): Promise<JobView>;
  waitForJob(id: string, timeoutMs: number, everyMs?: number): Promise<JobView>;
  /** Last lines the server printed (for error messages). */
  logTail(): string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  port: number;
  env?: Record<string, string>;
}

export async function startBenchServer(options: ServerOptions): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tabgrid-bench-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--expose-gc',
      // e.g. TABGRID_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=.tmp/prof" to profile the server
      ...(process.env.TABGRID_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ...serverEntry(),
    ],
    {
      // TABGRID_BENCH_SERVER_DIR: the server of another checkout (a before/after in one run).
      cwd: process.env.TABGRID_BENCH_SERVER_DIR
        ? path.resolve(process.env.TABGRID_BENCH_SERVER_DIR)
        : REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(options.port),
        HOST: '127.0.0.1',
        TABGRID_DATA_DIR: dataDir,
        // Every simulated volunteer and bench tab connects from 127.0.0.1.
        TABGRID_MAX_VOLUNTEERS_PER_IP: '100000',
        TABGRID_MAX_TASKS_PER_IP: '0',
        LOG_LEVEL: 'warn',
        ...benchServerEnv(),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString().split('\n').filter(Boolean));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${options.port}`;
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`server exited early:\n${tail.join('\n')}`);
        return fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      60_000,
      'the server to start',
      100,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  /** Sends `msg` to the server's probe and resolves with its answer of the same type. */
  const ask = <T>(msg: { type: string; file?: string }, timeoutMs = 30_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${msg.type} probe timed out`)), timeoutMs);
      const onMessage = (answer: unknown) => {
        if ((answer as { type?: string } | null)?.type !== msg.type) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(answer as T);
      };
      child.on('message', onMessage);
      child.send(msg);
    });

  const server: BenchServer = {
    url,
    port: options.port,
    pid: child.pid!,
    dataDir,
    async metrics() {
      return parseProm(await (await fetch(`${url}/metrics`, { headers: benchAuth })).text());
    },
    memory() {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('memory probe timed out')), 30_000);
        const onMessage = (msg: unknown) => {
          const m = msg as MemoryProbe & { type?: string };
          if (m?.type !== 'memory') return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, gc: m.gc });
        };
        child.on('message', onMessage);
        child.send({ type: 'memory' });
      });
    },
    commits: () => ask<{ commits: number }>({ type: 'commits' }).then((m) => m.commits),
    heapSnapshot: (file) => ask({ type: 'heap-snapshot', file }, 120_000).then(() => undefined),
    async upload(files) {
      const form = new FormData();
      for (const f of files) {
        form.append('images', new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), f.name);
      }
      const res = await fetch(`${url}/api/jobs`, { method: 'POST', body: form, headers: benchAuth });
      if (res.status !== 201) {
        throw new Error(
          `upload failed: ${res.status} ${await res.text()}\nserver log:\n${tail.slice(-10).join('\n')}`,
        );
      }
      return JobCreatedSchema.parse(await res.json());
    },
    async getJob(id) {
      const res = await fetch(`${url}/api/jobs/${id}`, { headers: benchAuth });
      if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status}`);
      return JobViewSchema.parse(await res.json());
    },
    async waitForJob(id, timeoutMs, everyMs = 25) {
      return waitFor(
        async () => {
          const job = await server.getJob(id);
          return job.status === 'done' || job.status === 'failed' ? job : null;
        },
        timeoutMs,
        `job ${id}`,
        everyMs,
      );
    },
    logTail: () => tail.join('\n'),
    async stop() {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await Promise.race([gone, sleep(10_000)]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * How the server is started: from its sources under tsx (the default), or with
 * TABGRID_BENCH_SERVER=dist the production build (`npm run build`: dist-server/, plain node).
 * tsx compiles with esbuild's `keepNames`, which gives every function made per connection its own
 * property store (`__name`): memory per connection differs between the two.
 */
function serverEntry(): string[] {
  if (process.env.TABGRID_BENCH_SERVER !== 'dist')
    return ['--import', 'tsx', '--import', './bench/sim/server-probe.ts', 'apps/server/src/main.ts'];
  const main = path.join(REPO_ROOT, 'dist-server/apps/server/main.js');
  if (!existsSync(main)) throw new Error('TABGRID_BENCH_SERVER=dist: run `npm run build` first');
  // The probe, compiled without keepNames, where it resolves better-sqlite3 as the server does.
  const probe = path.join(REPO_ROOT, 'node_modules/.cache/tabgrid-bench', `server-probe-${process.pid}.mjs`);
  buildSync({
    entryPoints: [path.join(REPO_ROOT, 'bench/sim/server-probe.ts')],
    outfile: probe,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
  });
  return ['--import', pathToFileURL(probe).href, main];
}

export const readBytes = (file: string) => new Uint8Array(readFileSync(file));
