/**
 * The suite's volunteers as real processes: honest agents (`apps/agent/src/main.ts`, what
 * `npm run agent` runs) and liars (`liar.ts`), each `node --import tsx <entry>` so the pid is the
 * process itself. A liar's stdout is parsed into `LiarEvent`s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/assets';
import type { LiarEvent, LiarKind } from './kinds';

export interface Proc {
  name: string;
  child: ChildProcess;
  /** The last ~16 KB of output (for error messages). */
  output(): string;
  stop(): Promise<void>;
}

function start(name: string, script: string, args: string[], onLine?: (line: string) => void): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let partial = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-16_384);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (!onLine) return;
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(line);
  });
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An honest headless agent with its identity in `stateFile`. */
export function startHonestAgent(name: string, server: string, stateFile: string): Proc {
  return start(name, 'apps/agent/src/main.ts', [
    '--server',
    server,
    '--state',
    stateFile,
    '--slots',
    '1',
    '--threads',
    '1',
  ]);
}

export interface LiarProc extends Proc {
  kind: LiarKind;
  events: LiarEvent[];
  volunteerId(): string | null;
}

export function startLiar(
  name: string,
  server: string,
  kind: LiarKind,
  stateFile: string,
  extra: string[] = [],
): LiarProc {
  const events: LiarEvent[] = [];
  const proc = start(
    name,
    path.join('bench', 'adversarial', 'liar.ts'),
    ['--server', server, '--kind', kind, '--state', stateFile, ...extra],
    (line) => {
      try {
        events.push(JSON.parse(line) as LiarEvent);
      } catch {
        // a stray line (e.g. a warning): kept in output() only
      }
    },
  );
  return {
    ...proc,
    kind,
    events,
    volunteerId: () => {
      const e = events.findLast((x) => x.event === 'identity');
      return e?.event === 'identity' ? e.volunteerId : null;
    },
  };
}

/** The server-issued id in an agent's state file, once written. */
export function stateId(stateFile: string): string | null {
  if (!existsSync(stateFile)) return null;
  try {
    const v = (JSON.parse(readFileSync(stateFile, 'utf8')) as { volunteerId?: unknown }).volunteerId;
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}
