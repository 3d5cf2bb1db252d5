/**
 * Two real gateway processes (`apps/server/src/main.ts` with `TABGRID_REDIS_URL`) on one real
 * Redis (AOF always) and one shared blob directory: an identity issued by gateway 1 resumes on
 * gateway 2, an API key created with `npm run keys` against Redis works on both, a job
 * uploaded through gateway 1 is owned (and only owned) on gateway 2 and completes there, and
 * while Redis is killed both gateways answer `/healthz` 503 and the API `storage_unavailable`,
 * without crashing, and recover when it is back.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { JobCreatedSchema, PROTOCOL_VERSION, type JobView } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVolunteer } from './support/fake-volunteer';
import { REPO_ROOT, TEST_KEYS, bearer, readImage } from './support/harness';
import { freePort, killAll, startServerProcess, tmpDir, type Child } from './support/processes';
import { startRedis, type TestRedis } from './support/redis';

const run = promisify(execFile);

let redis: TestRedis;
const gw: { url: string; child: Child }[] = [];
let createdKey = '';

async function upload(url: string, key: string, names: string[]): Promise<Response> {
  const form = new FormData();
  for (const name of names)
    form.append(
      'images',
      new Blob([readImage(name) as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
      name,
    );
  return fetch(`${url}/api/jobs`, { method: 'POST', body: form, headers: bearer(key) });
}

/** Polls an async check every 100 ms until it returns a value. */
async function poll<T>(check: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const getJob = (url: string, id: string, key: string) =>
  fetch(`${url}/api/jobs/${id}`, { headers: bearer(key) });

beforeAll(async () => {
  redis = await startRedis();
  const blobDir = tmpDir('tabgrid-blobs-');
  const env = (id: string) => ({
    TABGRID_REDIS_URL: redis.url,
    TABGRID_GATEWAY_ID: id,
    TABGRID_BLOB_DIR: blobDir,
    TABGRID_HEALTH_CHECK_MS: '200',
    TABGRID_REDIS_COMMAND_TIMEOUT_MS: '1000',
  });
  const ports = [await freePort(), await freePort()];
  const children = await Promise.all(
    ports.map((port, i) =>
      startServerProcess(`gateway ${i + 1}`, {
        port,
        dataDir: tmpDir('tabgrid-gw-'),
        env: env(`gw-${i + 1}`),
      }),
    ),
  );
  children.forEach((child, i) => gw.push({ url: `http://127.0.0.1:${ports[i]}`, child }));
  // A key made with the CLI against the same Redis (no gateway involved).
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'apps/server/src/access/keys-cli.ts'), 'create', 'carol'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, TABGRID_REDIS_URL: redis.url, TABGRID_DATA_DIR: tmpDir('tabgrid-cli-') },
    },
  );
  createdKey = /\n\s+(tg_[\w-]+)\n/.exec(stdout)?.[1] ?? '';
  expect(createdKey).toMatch(/^tg_/);
}, 120_000);

afterAll(async () => {
  await killAll();
  await redis?.stop();
});

describe('two gateways on one Redis', () => {
  it('reports the Redis backend and a healthy redis dependency on each gateway', async () => {
    for (const { url } of gw) {
      const health = (await (await fetch(`${url}/healthz`)).json()) as {
        dependencies: { name: string; ok: boolean }[];
      };
      expect(health.dependencies).toContainEqual({ name: 'redis', ok: true });
      expect(health.dependencies.map((d) => d.name)).not.toContain('database');
    }
  });

  it('an identity issued by gateway 1 resumes on gateway 2 with its token, and only with it', async () => {
    const first = await FakeVolunteer.connect(gw[0]!.url, { id: 'resumer' });
    const { volunteerId, token, displayName } = first.hello!;
    expect(token).toBeTruthy();
    first.close();
    const again = await FakeVolunteer.connect(gw[1]!.url, {
      id: 'resumer-2',
      credentials: { volunteerId, token: token! },
    });
    expect(again.hello).toMatchObject({ volunteerId, displayName });
    expect(again.hello!.token).toBeUndefined(); // resumed, not issued
    again.close();
    const refused = io(`${gw[1]!.url}/volunteer`, {
      auth: {
        protocolVersion: PROTOCOL_VERSION,
        volunteerId,
        token: `${token!.slice(0, -2)}xx`,
        kind: 'agent',
        runtime: 't',
      },
      transports: ['websocket'],
      reconnection: false,
    });
    const err = await new Promise<Error & { data?: { code?: string } }>((resolve) =>
      refused.once('connect_error', resolve),
    );
    refused.close();
    expect(err.data?.code).toBe('identity_rejected');
  });

  it('a key created against Redis works on both gateways; ownership holds on both', async () => {
    for (const { url } of gw) {
      const me = await fetch(`${url}/api/me`, { headers: bearer(createdKey) });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ name: 'carol', source: 'store' });
    }
    const created = await upload(gw[0]!.url, createdKey, ['bus.jpg', 'dog.jpg']);
    expect(created.status).toBe(201);
    const job = JobCreatedSchema.parse(await created.json());
    // The owner sees it on gateway 2; another requester gets 404 there, as for a missing job.
    expect((await getJob(gw[1]!.url, job.id, createdKey)).status).toBe(200);
    expect((await getJob(gw[1]!.url, job.id, TEST_KEYS.other.key)).status).toBe(404);
    const list = (await (await fetch(`${gw[1]!.url}/api/jobs`, { headers: bearer(createdKey) })).json()) as {
      jobs: { id: string }[];
    };
    expect(list.jobs.map((j) => j.id)).toEqual([job.id]);
    const foreign = await fetch(`${gw[1]!.url}/api/jobs`, { headers: bearer(TEST_KEYS.other.key) });
    expect(((await foreign.json()) as { jobs: unknown[] }).jobs).toEqual([]);
    expect(
      (
        await fetch(`${gw[1]!.url}/api/jobs/${job.id}`, {
          method: 'DELETE',
          headers: bearer(TEST_KEYS.other.key),
        })
      ).status,
    ).toBe(404);

    // A volunteer on gateway 2 runs the tasks uploaded through gateway 1.
    const worker = await FakeVolunteer.connect(gw[1]!.url, { id: 'worker' });
    try {
      const done = await poll(
        async () => {
          const view = (await (await getJob(gw[0]!.url, job.id, createdKey)).json()) as JobView;
          return view.status === 'done' ? view : null;
        },
        30_000,
        'the job done through gateway 2',
      );
      expect(done.tasks.map((t) => t.status)).toEqual(['done', 'done']);
      expect(new Set(worker.assigned.map((a) => a.taskId))).toEqual(new Set(job.tasks.map((t) => t.id)));
    } finally {
      worker.close();
    }
    const deleted = await fetch(`${gw[1]!.url}/api/jobs/${job.id}`, {
      method: 'DELETE',
      headers: bearer(createdKey),
    });
    expect(deleted.status).toBe(200);
    const after = (await (await fetch(`${gw[0]!.url}/api/jobs`, { headers: bearer(createdKey) })).json()) as {
      jobs: { id: string; deletedAt: number | null }[];
    };
    expect(after.jobs[0]!.deletedAt).toEqual(expect.any(Number));
  });

  it('while Redis is killed: /healthz 503 naming redis, the API 503 storage_unavailable, no crash; then back', async () => {
    await redis.kill9();
    try {
      for (const { url } of gw) {
        const health = await poll(
          async () => {
            const r = await fetch(`${url}/healthz`);
            return r.status === 503 ? ((await r.json()) as { failing: { name: string }[] }) : null;
          },
          10_000,
          'healthz 503',
        );
        expect(health.failing.map((f) => f.name)).toContain('redis');
        const api = await fetch(`${url}/api/jobs`, { headers: bearer(createdKey) });
        expect(api.status).toBe(503);
        expect(await api.json()).toMatchObject({ error: { code: 'storage_unavailable' } });
      }
    } finally {
      await redis.restart();
    }
    for (const { url, child } of gw) {
      await poll(
        async () => ((await fetch(`${url}/healthz`)).status === 200 ? true : null),
        15_000,
        'healthz 200 again',
      );
      expect(child.alive).toBe(true);
      // Every failure went to the error sink; none escaped as an unhandled rejection.
      expect(child.output()).not.toContain('unhandledRejection');
      expect(child.output()).not.toContain('uncaughtException');
      expect((await fetch(`${url}/api/me`, { headers: bearer(createdKey) })).status).toBe(200);
    }
  });
});
