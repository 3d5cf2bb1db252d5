import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JobCreatedSchema, JobViewSchema, type JobView } from '@tabgrid/protocol';
import { startServer, type ServerSeams, type Tabgrid } from '../../src/app';
import { DEFAULT_CONFIG, type ServerConfig } from '../../src/config';
import type { SchedulerStore } from '../../src/store/sqlite';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');
export const MODEL_DIR = path.join(REPO_ROOT, 'public/models');
/** Sample photos: `$TABGRID_ASSET_MIRROR/images`, else `../shared/images` beside the repo. */
export const IMAGES_DIR = path.resolve(
  process.env.TABGRID_ASSET_MIRROR ?? path.join(REPO_ROOT, '../shared'),
  'images',
);

export const readImage = (name: string) => fs.readFileSync(path.join(IMAGES_DIR, name));

/** The requester every test server knows (`TABGRID_API_KEYS`-style), and a second one. */
export const TEST_KEYS = {
  owner: { name: 'tester', key: 'test-key-tester-0123456789' },
  other: { name: 'other', key: 'test-key-other-0123456789' },
} as const;
export const TEST_API_KEYS = Object.values(TEST_KEYS)
  .map((k) => `${k.name}:${k.key}`)
  .join(',');

/** `Authorization: Bearer <key>` (the test owner's key by default). */
export const bearer = (key: string = TEST_KEYS.owner.key) => ({ authorization: `Bearer ${key}` });

export interface TestServer extends Omit<Tabgrid, 'store'> {
  /** The SQLite store (test servers run on SQLite unless a test passes `redisUrl`). */
  store: SchedulerStore;
  dataDir: string;
  /** `POST /api/jobs` as the test owner (or `options.key`; `null` sends no key). */
  upload(
    files: { name: string; bytes: Uint8Array; type?: string; field?: string }[],
    options?: { key?: string | null; fields?: Record<string, string> },
  ): Promise<Response>;
  createJob(
    names: string[],
    options?: { key?: string; public?: boolean },
  ): Promise<{ id: string; tasks: { id: string; name: string }[] }>;
  getJob(id: string, key?: string): Promise<JobView>;
  /** Polls the API until the job is finished (tests only; the product pushes). */
  waitForJob(id: string, timeoutMs?: number, key?: string): Promise<JobView>;
}

/**
 * A real server on a free port with a fresh data directory (or a given one, to test restarts).
 * `seams` replace a dependency (store wrapper, blob writer, clock) for fault and clock tests.
 */
export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
  seams: ServerSeams = {},
): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-test-'));
  const tg = await startServer(
    {
      ...DEFAULT_CONFIG,
      port: 0,
      host: '127.0.0.1',
      modelDir: MODEL_DIR,
      staticDir: path.join(REPO_ROOT, 'dist'),
      logLevel: (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent',
      apiKeys: Object.values(TEST_KEYS).map((k) => ({ ...k })),
      // Every test peer connects from 127.0.0.1: lift the per-address limits (identity tests set them).
      maxVolunteersPerIp: 1000,
      maxTasksPerIp: 0,
      newIdentitiesPerHour: 0,
      maxLivePerIp: 0,
      signInFailuresPerMinute: 0,
      // Scheduling tests script their volunteers' detections: verification (which would judge
      // them against the referee) is opt-in here; the trust tests and e2e run with it on.
      verification: false,
      ...overrides,
      dataDir,
    },
    seams,
  );
  const server: TestServer = {
    ...tg,
    store: tg.store as SchedulerStore,
    dataDir,
    async upload(files, options = {}) {
      const form = new FormData();
      for (const [name, value] of Object.entries(options.fields ?? {})) form.append(name, value);
      for (const f of files) {
        form.append(
          f.field ?? 'images',
          new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: f.type ?? 'image/jpeg' }),
          f.name,
        );
      }
      const key = options.key === undefined ? TEST_KEYS.owner.key : options.key;
      return fetch(`${tg.url}/api/jobs`, {
        method: 'POST',
        body: form,
        headers: key === null ? {} : bearer(key),
      });
    },
    async createJob(names, options = {}) {
      const res = await server.upload(
        names.map((name) => ({ name, bytes: readImage(name) })),
        { ...(options.key ? { key: options.key } : {}), fields: options.public ? { public: 'true' } : {} },
      );
      if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
      return JobCreatedSchema.parse(await res.json());
    },
    async getJob(id, key) {
      const res = await fetch(`${tg.url}/api/jobs/${id}`, { headers: bearer(key) });
      if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status}`);
      return JobViewSchema.parse(await res.json());
    },
    async waitForJob(id, timeoutMs = 20_000, key) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await server.getJob(id, key);
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
