/**
 * The compiled server (`npm run build` → `dist-server/`, issue 19) runs with plain `node` and
 * never loads tsx. Checked for real, not by reading the command line alone:
 *
 * - the build's output is copied into a temporary directory whose `node_modules/` holds every
 *   installed package **but tsx** (symlinks), so any import of tsx, or of a `.ts` file (Node 20
 *   cannot load one without a loader), fails there;
 * - the server, the compiled agent and the referee's worker thread (started by the first
 *   disputed result: one new volunteer alone, so the referee settles it) run from that copy;
 * - `/proc/<pid>/cmdline` and `/proc/<pid>/environ` of the server carry no loader
 *   (`--import`, `--loader`, `--require`, `NODE_OPTIONS`).
 *
 * A result settled by the referee proves its worker thread loaded too.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { JobView } from '@tabgrid/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchPhotos, uploadPhotos } from '../faults/batch';
import { REPO_ROOT, TEST_API_KEYS, bearer, sleep } from '../support/harness';
import { freePort, tmpDir } from '../support/processes';
import { healthy, killNodes, spawnNode } from './node-process';

/** The packages a production process must never see. */
const DEV_LOADERS = new Set(['tsx']);

let root: string;

beforeAll(() => {
  // The server half of `npm run build` (esbuild, about a second); the web app is not needed here.
  execFileSync(process.execPath, ['scripts/build-server.mjs'], { cwd: REPO_ROOT, stdio: 'pipe' });
  root = tmpDir('tabgrid-compiled-');
  fs.cpSync(path.join(REPO_ROOT, 'dist-server'), path.join(root, 'dist-server'), { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'public'), path.join(root, 'public'));
  const modules = path.join(root, 'node_modules');
  fs.mkdirSync(modules);
  for (const name of fs.readdirSync(path.join(REPO_ROOT, 'node_modules'))) {
    if (DEV_LOADERS.has(name) || name === '.bin') continue;
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', name), path.join(modules, name));
  }
  // package.json for "type": "module" (the bundles are ES modules).
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
});

afterAll(async () => {
  await killNodes();
});

async function metric(url: string, name: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`, { headers: bearer() })).text();
  const line = body.split('\n').find((l) => l.startsWith(name));
  return Number(line?.split(' ').pop() ?? 0);
}

describe('compiled server (dist-server/) on plain node', () => {
  it(
    'answers /healthz, runs a job with the compiled agent and referee, and never loads tsx',
    { timeout: 180_000 },
    async () => {
      expect(fs.existsSync(path.join(root, 'node_modules/tsx'))).toBe(false);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const server = spawnNode('compiled server', ['dist-server/apps/server/main.js'], {
        cwd: root,
        env: {
          ...env,
          PORT: String(port),
          HOST: '127.0.0.1',
          TABGRID_DATA_DIR: tmpDir('tabgrid-compiled-data-'),
          TABGRID_API_KEYS: TEST_API_KEYS,
          LOG_LEVEL: 'warn',
          // One new volunteer alone: its result waits for a second opinion, which the referee gives.
          TABGRID_REFEREE_AFTER_MS: '200',
          TABGRID_CANARY_PERCENT: '0',
        },
      });
      await healthy(url, server, 60_000);

      const cmdline = fs.readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      expect(cmdline).toEqual([process.execPath, 'dist-server/apps/server/main.js']);
      const environ = fs.readFileSync(`/proc/${server.pid}/environ`, 'utf8').split('\0');
      expect(environ.filter((e) => e.startsWith('NODE_OPTIONS='))).toEqual([]);

      const agent = spawnNode(
        'compiled agent',
        [
          'dist-server/apps/agent/main.js',
          '--server',
          url,
          '--state',
          path.join(root, 'agent.json'),
          '--threads',
          '1',
        ],
        { cwd: root, env },
      );
      const [photo] = await batchPhotos(1);
      const up = await uploadPhotos(url, [photo!]);
      expect(up.status, up.body).toBe(201);
      let view: JobView | null = null;
      for (const deadline = Date.now() + 90_000; view?.status !== 'done'; await sleep(200)) {
        if (Date.now() > deadline)
          throw new Error(`job not done\nserver:\n${server.output()}\nagent:\n${agent.output()}`);
        const res = await fetch(`${url}/api/jobs/${up.job!.id}`, { headers: bearer() });
        view = (await res.json()) as JobView;
      }
      expect(view.tasks[0]!.detections!.length).toBeGreaterThan(0);
      // The referee's worker thread ran (compiled, beside the server's bundle).
      expect(
        await metric(url, 'tabgrid_referee_runs_total{outcome="settled"}'),
        server.output(),
      ).toBeGreaterThan(0);
      // The compiled agent found the model installed in public/models/ (no download).
      expect(agent.output()).toMatch(/model ready \(.*from \S*public\/models\/yolox_nano\.onnx\)/);
      expect(server.output()).not.toMatch(/ERR_MODULE_NOT_FOUND|Unknown file extension/);
      expect(server.alive && agent.alive).toBe(true);
    },
  );
});
