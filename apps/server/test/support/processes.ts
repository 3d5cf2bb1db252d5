/**
 * Child processes for the fault suite: the real server (`apps/server/src/main.ts`)
 * and real headless agents (`apps/agent/src/main.ts`), run as
 * `node --import tsx …` so that the pid is the process itself (no npx/tsx
 * wrapper in between: SIGKILL really kills it). Output is kept for failure
 * messages. `killAll()` belongs in afterEach/afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { REPO_ROOT, TEST_API_KEYS, sleep } from './harness';

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  startedAt: number;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly alive: boolean;
  /** The last ~32 KB of stdout+stderr. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<Child>();
const OUTPUT_KEEP = 32 * 1024;

/** Runs a TypeScript entry point of this repository in its own node process. */
export function spawnTs(name: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > OUTPUT_KEEP * 2) out = out.slice(-OUTPUT_KEEP);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      running = false;
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const child: Child = {
    name,
    proc,
    pid: proc.pid!,
    startedAt: Date.now(),
    exited,
    get alive() {
      return running;
    },
    output: () => out.slice(-OUTPUT_KEEP),
    async kill(signal = 'SIGKILL') {
      if (running) proc.kill(signal);
      await exited;
    },
  };
  children.add(child);
  return child;
}

/** SIGKILLs every child still running (use in afterEach/afterAll, also after failures). */
export async function killAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill('SIGKILL')));
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export const tmpDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

export interface ServerProcessOptions {
  port: number;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts `apps/server/src/main.ts` on 127.0.0.1:`port` and waits until /healthz answers. */
export async function startServerProcess(
  name: string,
  { port, dataDir, env = {} }: ServerProcessOptions,
  timeoutMs = 60_000,
): Promise<Child> {
  const child = spawnTs(name, 'apps/server/src/main.ts', [], {
    PORT: String(port),
    HOST: '127.0.0.1',
    TABGRID_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    TABGRID_API_KEYS: TEST_API_KEYS,
    // Every test peer connects from 127.0.0.1.
    TABGRID_MAX_VOLUNTEERS_PER_IP: '1000',
    TABGRID_NEW_IDENTITIES_PER_HOUR: '0',
    TABGRID_MAX_LIVE_PER_IP: '0',
    // Fault drills check scheduling with honest agents; verification is tested in test/verification/.
    TABGRID_VERIFICATION: '0',
    ...env,
  });
  await waitForHealth(`http://127.0.0.1:${port}`, child, timeoutMs);
  return child;
}

/** Polls `/healthz` until it answers 200; fails early (with its output) if the process exits. */
export async function waitForHealth(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.alive) throw new Error(`${child.name} exited before it was healthy:\n${child.output()}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline)
      throw new Error(`${child.name} not healthy in ${timeoutMs} ms:\n${child.output()}`);
    await sleep(50);
  }
}

/**
 * Starts a real headless agent (`npm run agent -- --server URL --state FILE`) named `name`, with a
 * fresh state file. `volunteerId()` reads the id the server issued it (null until its first hello).
 */
export function startAgentProcess(
  name: string,
  serverUrl: string,
  extraArgs: string[] = [],
): Child & { statePath: string; volunteerId(): string | null } {
  const statePath = path.join(tmpDir(`tabgrid-agent-${name}-`), 'state.json');
  const child = spawnTs(name, 'apps/agent/src/main.ts', [
    '--server',
    serverUrl,
    '--state',
    statePath,
    ...extraArgs,
  ]);
  let volunteerId: string | null = null;
  return Object.assign(child, {
    statePath,
    volunteerId() {
      if (volunteerId) return volunteerId;
      try {
        volunteerId =
          (JSON.parse(fs.readFileSync(statePath, 'utf8')) as { volunteerId?: string }).volunteerId ?? null;
      } catch {
        /* not issued yet */
      }
      return volunteerId;
    },
  });
}

/**
 * Read-only view of a server's SQLite database (WAL), for assertions on rows
 * the API does not show. Opens a fresh connection per call, so it always sees
 * the latest commit and never holds the database open across a restart.
 */
export function readDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(dataDir, 'tabgrid.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Polls `check` (generous timeout, never a tight timing assertion). */
export async function poll<T>(
  check: () => T | null | undefined | false,
  timeoutMs: number,
  what: string,
  context: () => string = () => '',
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await sleep(intervalMs);
  }
}
