/**
 * A plain `node` child process (no tsx, no `--import`): what production runs. Output is kept
 * for failure messages; `killNodes()` belongs in afterAll.
 */
import { spawn } from 'node:child_process';

export interface NodeChild {
  name: string;
  pid: number;
  readonly alive: boolean;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<NodeChild>();

/** Runs `node <args>` in `cwd` with exactly `env`. */
export function spawnNode(
  name: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): NodeChild {
  const proc = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-64 * 1024);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let running = true;
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      running = false;
      children.delete(child);
      resolve();
    }),
  );
  const child: NodeChild = {
    name,
    pid: proc.pid!,
    get alive() {
      return running;
    },
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (running) proc.kill(signal);
      await exited;
    },
  };
  children.add(child);
  return child;
}

/** SIGKILLs every child still running. */
export async function killNodes(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill('SIGKILL')));
}

/** Polls `/healthz` until it answers 200; fails early (with its output) if the process exits. */
export async function healthy(url: string, child: NodeChild, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (!child.alive) throw new Error(`${child.name} exited before it was healthy:\n${child.output()}`);
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`${child.name} not healthy in ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
