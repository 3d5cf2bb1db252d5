import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobCreatedSchema, JobViewSchema, type JobView } from '@tabgrid/protocol';
import { startServer, type Tabgrid } from '../../src/app';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
export const MODEL_DIR = path.join(REPO_ROOT, 'public/models');
/** Sample photos: `$TABGRID_ASSET_MIRROR/images`, else `../shared/images` beside the repo. */
export const IMAGES_DIR = path.resolve(
  process.env.TABGRID_ASSET_MIRROR ?? path.join(REPO_ROOT, '../shared'),
  'images',
);

export const readImage = (name: string) => fs.readFileSync(path.join(IMAGES_DIR, name));

export interface TestServer extends Tabgrid {
  dataDir: string;
  upload(files: { name: string; bytes: Uint8Array; type?: string; field?: string }[]): Promise<Response>;
  createJob(names: string[]): Promise<{ id: string; tasks: { id: string; name: string }[] }>;
  getJob(id: string): Promise<JobView>;
  /** Polls the API until the job is finished (tests only; the product pushes). */
  waitForJob(id: string, timeoutMs?: number): Promise<JobView>;
}

/** A real server on a free port with a fresh data directory (or a given one, to test restarts). */
export async function startTestServer(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-test-'));
  const tg = await startServer({
    ...DEFAULT_CONFIG,
    port: 0,
    host: '127.0.0.1',
    modelDir: MODEL_DIR,
    staticDir: path.join(REPO_ROOT, 'dist'),
    logLevel: 'silent',
    // Every test peer connects from 127.0.0.1: lift the per-address limits (identity tests set them).
    maxVolunteersPerIp: 1000,
    maxTasksPerIp: 0,
    ...overrides,
    dataDir,
  });
  const server: TestServer = {
    ...tg,
    dataDir,
    async upload(files) {
      const form = new FormData();
      for (const f of files) {
        form.append(
          f.field ?? 'images',
          new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: f.type ?? 'image/jpeg' }),
          f.name,
        );
      }
      return fetch(`${tg.url}/api/jobs`, { method: 'POST', body: form });
    },
    async createJob(names) {
      const res = await server.upload(names.map((name) => ({ name, bytes: readImage(name) })));
      if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
      return JobCreatedSchema.parse(await res.json());
    },
    async getJob(id) {
      const res = await fetch(`${tg.url}/api/jobs/${id}`);
      if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status}`);
      return JobViewSchema.parse(await res.json());
    },
    async waitForJob(id, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await server.getJob(id);
        if (job.status === 'done' || job.status === 'failed') return job;
        if (Date.now() > deadline)
          throw new Error(`job ${id} not finished: ${JSON.stringify(job.tasks.map((t) => t.status))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
  return server;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `check` returns a truthy value (polling), or rejects after `timeoutMs`. */
export async function until<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
