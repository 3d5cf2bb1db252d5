import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { variedPhotos } from '../../../../bench/adversarial/photos';
import { REPO_ROOT } from '../../../server/test/support/harness';

export interface CliRun {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Runs the CLI as a user would, in its own process from the checkout: `npx tabgrid …` (`npx`) or
 * `node bin/tabgrid.mjs …` (the same entry without npx's start-up, for the many short runs).
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, via: 'npx' | 'node' = 'node'): CliRun {
  const [cmd, pre] =
    via === 'npx' ? ['npx', ['--no-install', 'tabgrid']] : [process.execPath, ['bin/tabgrid.mjs']];
  const proc = spawn(cmd, [...pre, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TABGRID_URL: undefined, TABGRID_KEY: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** `count` varied photos (crops, rescales, mirrors, JPEG/PNG) written under `dir`, spread over nested folders. */
export async function writePhotos(dir: string, count: number, seed: number): Promise<string[]> {
  const photos = await variedPhotos(0, count, seed);
  return photos.map((p, i) => {
    const sub = path.join(dir, i % 3 === 0 ? '' : i % 3 === 1 ? 'a' : 'b/c');
    fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, p.name);
    fs.writeFileSync(file, p.bytes);
    return file;
  });
}

/**
 * A pass-through HTTP proxy in front of the real server that can cut the CLI off at a chosen
 * upload: the server receives and answers that request (the photos are stored), but its answer
 * never reaches the CLI. `uploads` counts upload requests that reached the server.
 */
export async function uploadCutter(target: string): Promise<{
  url: string;
  uploads: number;
  /** The next upload with this number (1-based, counting from now) is held after the server answers. */
  holdAt(n: number): Promise<void>;
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  let uploads = 0;
  let hold = { at: 0, reached: () => {} };
  const server = http.createServer((req, res) => {
    const isUpload = req.method === 'POST' && /^\/api\/jobs(\/[^/]+\/images)?(\?|$)/.test(req.url ?? '');
    const n = isUpload ? ++uploads : 0;
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        if (n > 0 && n === hold.at) {
          answer.resume(); // the server has answered: the photos are stored; the CLI never hears of it
          answer.once('end', hold.reached);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get uploads() {
      return uploads;
    },
    holdAt(n) {
      return new Promise<void>((resolve) => {
        hold = { at: uploads + n, reached: resolve };
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
