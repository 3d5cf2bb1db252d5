#!/usr/bin/env node
/**
 * Cold start of the server, from spawning the process to the first `GET /healthz` 200: the
 * sources through tsx (`node --import tsx apps/server/src/main.ts`, how `npm run serve` ran before
 * issue 19) against the compiled server (`node dist-server/apps/server/main.js`). Runs alternate
 * (tsx, node, tsx, node, …) so that a change in the machine's load hits both; each start gets a
 * fresh data directory and a free port, and is stopped with SIGTERM before the next. Prints each
 * run and the medians. Results: docs/PERFORMANCE.md, "Compiled server: cold start".
 *
 * @example npm run build && node scripts/measure-cold-start.mjs --runs 7
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
if (!fs.existsSync(path.join(root, 'dist-server/apps/server/main.js')))
  throw new Error('dist-server/ is missing: run `npm run build` first');

const VARIANTS = {
  tsx: ['--import', 'tsx', 'apps/server/src/main.ts'],
  node: ['dist-server/apps/server/main.js'],
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function coldStart(args) {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-coldstart-'));
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    TABGRID_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  delete env.NODE_OPTIONS;
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error(`${args.join(' ')}: not healthy in 120 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const times = { tsx: [], node: [] };
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(VARIANTS)) {
    const ms = await coldStart(args);
    times[name].push(ms);
    console.log(`run ${i + 1} ${name.padEnd(4)} ${ms.toFixed(0)} ms`);
  }
}
for (const [name, xs] of Object.entries(times)) {
  console.log(
    `${name.padEnd(4)} median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`,
  );
}
