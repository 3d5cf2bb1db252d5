/**
 * A real `redis-server` for tests: its own process on a free port, in a temporary directory,
 * with AOF `appendfsync always` (the durability Tabgrid's Redis mode requires). `kill9()` and
 * `restart()` (same port, same AOF) let a test crash Redis mid-batch. Stop it in afterAll.
 *
 * @example const redis = await startRedis(); const client = new Redis(redis.url); …; await redis.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './processes';

export interface TestRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Its working directory (AOF files live under `appendonlydir/`). */
  readonly dir: string;
  readonly pid: number;
  /** SIGKILL: no shutdown, no final fsync beyond what `appendfsync` already did. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory (replays the AOF). */
  restart(): Promise<void>;
  /** Shuts it down and removes its directory. */
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** `always` (default), `everysec` or `no`; `off` disables AOF. */
  appendfsync?: 'always' | 'everysec' | 'no' | 'off';
}

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

async function waitForPing(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`redis-server exited before it answered:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server not answering on ${port}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts a private redis-server (see the module comment). */
export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-redis-'));
  const fsync = options.appendfsync ?? 'always';
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    fsync === 'off' ? 'no' : 'yes',
    ...(fsync === 'off' ? [] : ['--appendfsync', fsync]),
    '--protected-mode',
    'no',
  ];
  let proc!: ChildProcess;
  let out = '';
  const launch = async () => {
    out = '';
    proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8000)));
    proc.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8000)));
    await waitForPing(port, proc, () => out);
  };
  const exited = () =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => proc.once('exit', () => r()));
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return proc.pid!;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited();
    },
    async restart() {
      await launch();
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
