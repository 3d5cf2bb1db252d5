/**
 * The access matrix (issue 8, docs/SECURITY.md, PROTOCOL.md L1-L6) on real HTTP and real
 * Socket.IO: every route and `/live` event, called anonymously, by the job's owner and by
 * another key, gets its documented answer.
 */
import {
  ApiErrorSchema,
  JobListSchema,
  PROTOCOL_VERSION,
  type LiveResult,
  type LiveSnapshot,
} from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSigner, loadSecret } from '../src/access/image-signer';
import { volunteerPool } from './support/fake-volunteer';
import { TEST_KEYS, bearer, readImage, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);
/** The owner's private job and public job, both done. */
let privateJob: { id: string; tasks: { id: string }[] };
let publicJob: { id: string; tasks: { id: string }[] };
const METRICS_TOKEN = 'metrics-token-0123456789';

type Caller = 'anonymous' | 'owner' | 'other' | 'bad key';
const CALLERS: Caller[] = ['anonymous', 'owner', 'other', 'bad key'];
const headersOf = (caller: Caller): Record<string, string> =>
  caller === 'anonymous'
    ? {}
    : bearer(
        caller === 'owner'
          ? TEST_KEYS.owner.key
          : caller === 'other'
            ? TEST_KEYS.other.key
            : 'nope-nope-nope',
      );

async function call(caller: Caller, path: string, init: RequestInit = {}) {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { ...headersOf(caller), ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  let code: string | null = null;
  try {
    const parsed = ApiErrorSchema.safeParse(JSON.parse(text));
    if (parsed.success) code = parsed.data.error.code;
  } catch {
    // not JSON (an image, metrics text)
  }
  return { status: res.status, code, text, headers: res.headers };
}

function liveSocket(apiKey?: string): Socket {
  return io(`${server.url}/live`, {
    auth: { protocolVersion: PROTOCOL_VERSION, ...(apiKey ? { apiKey } : {}) },
    transports: ['websocket'],
    reconnection: false,
  });
}

async function snapshotOf(apiKey?: string): Promise<{ socket: Socket; snapshot: LiveSnapshot }> {
  const socket = liveSocket(apiKey);
  const snapshot = await new Promise<LiveSnapshot>((resolve, reject) => {
    socket.once('live:snapshot', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, snapshot };
}

beforeAll(async () => {
  server = await startTestServer({ metricsToken: METRICS_TOKEN });
  await pool.join('v-matrix');
  privateJob = await server.createJob(['dog.jpg']);
  publicJob = await server.createJob(['bus.jpg'], { public: true });
  await server.waitForJob(privateJob.id);
  await server.waitForJob(publicJob.id);
});

afterAll(async () => {
  pool.closeAll();
  await server?.close();
});

describe('HTTP access matrix', () => {
  /** route -> expected status per caller (the error code follows from the status). */
  const matrix: { label: string; route: () => [string, string]; expect: Record<Caller, number> }[] = [
    {
      label: 'GET /api/me',
      route: () => ['GET', '/api/me'],
      expect: { anonymous: 401, owner: 200, other: 200, 'bad key': 401 },
    },
    {
      label: 'GET /api/jobs',
      route: () => ['GET', '/api/jobs'],
      expect: { anonymous: 401, owner: 200, other: 200, 'bad key': 401 },
    },
    {
      label: 'GET /api/jobs/:private',
      route: () => ['GET', `/api/jobs/${privateJob.id}`],
      expect: { anonymous: 401, owner: 200, other: 404, 'bad key': 401 },
    },
    {
      label: 'GET /api/jobs/:public',
      route: () => ['GET', `/api/jobs/${publicJob.id}`],
      expect: { anonymous: 401, owner: 200, other: 404, 'bad key': 401 },
    },
    {
      label: 'GET /api/jobs/:private/tasks/:task/image',
      route: () => ['GET', `/api/jobs/${privateJob.id}/tasks/${privateJob.tasks[0]!.id}/image`],
      expect: { anonymous: 401, owner: 200, other: 404, 'bad key': 401 },
    },
    {
      label: 'GET /api/jobs/:unknown',
      route: () => ['GET', '/api/jobs/job_doesnotexist'],
      expect: { anonymous: 401, owner: 404, other: 404, 'bad key': 401 },
    },
    {
      label: 'DELETE /api/jobs/:private',
      route: () => ['DELETE', `/api/jobs/${privateJob.id}`],
      // The owner's DELETE is tested in cancel-delete.test.ts (it changes the job).
      expect: { anonymous: 401, owner: -1, other: 404, 'bad key': 401 },
    },
    {
      label: 'GET /api/no-such-route',
      route: () => ['GET', '/api/no-such-route'],
      expect: { anonymous: 401, owner: 404, other: 404, 'bad key': 401 },
    },
    {
      label: 'GET /healthz',
      route: () => ['GET', '/healthz'],
      expect: { anonymous: 200, owner: 200, other: 200, 'bad key': 200 },
    },
    {
      label: 'GET /metrics',
      route: () => ['GET', '/metrics'],
      expect: { anonymous: 401, owner: 200, other: 200, 'bad key': 401 },
    },
  ];

  for (const row of matrix) {
    for (const caller of CALLERS) {
      it(`${row.label} as ${caller}`, async () => {
        const expected = row.expect[caller];
        if (expected < 0) return;
        const [method, path] = row.route();
        const res = await call(caller, path, { method });
        expect(res.status, `${method} ${path} as ${caller}: ${res.text.slice(0, 200)}`).toBe(expected);
        if (expected === 401) {
          expect(res.code).toBe('unauthorized');
          expect(res.text).not.toContain(TEST_KEYS.owner.key);
        }
        if (expected === 404) expect(res.code).toBe('not_found');
      });
    }
  }

  it('GET /api/me names the key; GET /api/jobs lists only the caller’s jobs, newest first', async () => {
    expect(JSON.parse((await call('owner', '/api/me')).text)).toMatchObject({
      name: 'tester',
      source: 'env',
    });
    expect(JSON.parse((await call('other', '/api/me')).text)).toMatchObject({ name: 'other', source: 'env' });
    const mine = JobListSchema.parse(JSON.parse((await call('owner', '/api/jobs')).text));
    const ids = mine.jobs.map((j) => j.id);
    expect(ids.indexOf(publicJob.id)).toBeLessThan(ids.indexOf(privateJob.id));
    expect(mine.jobs.find((j) => j.id === publicJob.id)).toMatchObject({ public: true, status: 'done' });
    expect(mine.jobs.find((j) => j.id === privateJob.id)).toMatchObject({ public: false, deletedAt: null });
    const theirs = JobListSchema.parse(JSON.parse((await call('other', '/api/jobs')).text));
    expect(theirs.jobs.map((j) => j.id)).not.toContain(privateJob.id);
    expect(theirs.jobs.map((j) => j.id)).not.toContain(publicJob.id);
  });

  it('paginates GET /api/jobs with a cursor and refuses a forged one', async () => {
    const first = JobListSchema.parse(JSON.parse((await call('owner', '/api/jobs?limit=1')).text));
    expect(first.jobs).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = JobListSchema.parse(
      JSON.parse((await call('owner', `/api/jobs?limit=1&cursor=${first.nextCursor}`)).text),
    );
    expect(second.jobs).toHaveLength(1);
    expect(second.jobs[0]!.createdAt).toBeLessThanOrEqual(first.jobs[0]!.createdAt);
    expect(second.jobs[0]!.id).not.toBe(first.jobs[0]!.id);
    expect((await call('owner', '/api/jobs?cursor=!!')).status).toBe(400);
    expect((await call('owner', '/api/jobs?limit=0')).status).toBe(400);
  });

  it('/metrics takes TABGRID_METRICS_TOKEN or an API key as bearer', async () => {
    const res = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('tabgrid_tasks_total');
  });

  it('refuses a foreign Origin on the API (403) and accepts the server’s own', async () => {
    const foreign = await call('owner', '/api/me', { headers: { origin: 'http://evil.example' } });
    expect(foreign).toMatchObject({ status: 403, code: 'forbidden_origin' });
    const form = new FormData();
    form.append('images', new Blob([new Uint8Array(readImage('dog.jpg'))], { type: 'image/jpeg' }), 'x.jpg');
    const post = await call('owner', '/api/jobs', {
      method: 'POST',
      body: form,
      headers: { origin: 'http://evil.example' },
    });
    expect(post).toMatchObject({ status: 403, code: 'forbidden_origin' });
    const own = await call('owner', '/api/me', { headers: { origin: server.url } });
    expect(own.status).toBe(200);
  });

  it('sends the security headers on pages, API answers and errors', async () => {
    for (const path of ['/', '/volunteer', '/api/me', '/healthz']) {
      const res = await call('anonymous', path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp, path).toContain("worker-src 'self' blob:");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
    }
  });
});

describe('/live access matrix', () => {
  const names = (results: LiveResult[]) => results.map((r) => r.name).sort();

  it('anonymous: figures and public results only, without ids; job:watch is not_found', async () => {
    const { socket, snapshot } = await snapshotOf();
    try {
      expect(snapshot.stats.tasks.done).toBeGreaterThanOrEqual(2);
      expect(names(snapshot.recent)).toEqual(['bus.jpg']);
      const [shown] = snapshot.recent;
      expect(shown).not.toHaveProperty('jobId');
      expect(shown).not.toHaveProperty('taskId');
      expect(shown!.own).toBe(false);
      expect(JSON.stringify(snapshot)).not.toContain(publicJob.id);
      expect(JSON.stringify(snapshot)).not.toContain(publicJob.tasks[0]!.id.slice(5));
      for (const jobId of [privateJob.id, publicJob.id]) {
        const ack = await socket.timeout(2000).emitWithAck('job:watch', { jobId });
        expect(ack).toMatchObject({ ok: false, code: 'not_found' });
      }
    } finally {
      socket.close();
    }
  });

  it('the signed image URL of a public result works without a key, and not once tampered or expired', async () => {
    const { socket, snapshot } = await snapshotOf();
    socket.close();
    const url = snapshot.recent[0]!.imageUrl;
    expect(url).toMatch(/^\/img\/[\w-]{40,}$/);
    const ok = await fetch(`${server.url}${url}`);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(readImage('bus.jpg'))).toBe(true);
    const token = url.slice('/img/'.length);
    const flipped = (i: number) => {
      const bytes = Buffer.from(token, 'base64url');
      bytes[i] = bytes[i]! ^ 1;
      return `/img/${bytes.toString('base64url')}`;
    };
    for (const i of [0, 14, Buffer.from(token, 'base64url').length - 1])
      expect((await fetch(`${server.url}${flipped(i)}`)).status, `byte ${i} altered`).toBe(404);
    expect((await fetch(`${server.url}/img/${'A'.repeat(60)}`)).status).toBe(404);
  });

  it('sealed image URLs expire (ImageSigner, same secret)', async () => {
    const signer = new ImageSigner(loadSecret(server.dataDir), 60_000);
    const url = signer.imageUrl(publicJob.tasks[0]!.id, Date.now() - 10 * 60_000);
    expect((await fetch(`${server.url}${url}`)).status).toBe(404);
    const fresh = signer.imageUrl(publicJob.tasks[0]!.id);
    expect((await fetch(`${server.url}${fresh}`)).status).toBe(200);
  });

  it('owner: its private and public results with ids; may watch its jobs', async () => {
    const { socket, snapshot } = await snapshotOf(TEST_KEYS.owner.key);
    try {
      expect(names(snapshot.recent)).toEqual(['bus.jpg', 'dog.jpg']);
      for (const r of snapshot.recent) expect(r).toMatchObject({ own: true, jobId: expect.any(String) });
      const ack = await socket.timeout(2000).emitWithAck('job:watch', { jobId: privateJob.id });
      expect(ack).toMatchObject({ ok: true, data: { id: privateJob.id, status: 'done' } });
    } finally {
      socket.close();
    }
  });

  it('other key: public results without ids, not the owner’s private ones; job:watch is not_found', async () => {
    const { socket, snapshot } = await snapshotOf(TEST_KEYS.other.key);
    try {
      expect(names(snapshot.recent)).toEqual(['bus.jpg']);
      expect(snapshot.recent[0]!.own).toBe(false);
      expect(snapshot.recent[0]).not.toHaveProperty('jobId');
      const ack = await socket.timeout(2000).emitWithAck('job:watch', { jobId: privateJob.id });
      expect(ack).toMatchObject({ ok: false, code: 'not_found' });
    } finally {
      socket.close();
    }
  });

  it('pushes live:result to the owner (with ids) and, for public jobs only, to everyone else (without)', async () => {
    const viewers = {
      anonymous: liveSocket(),
      owner: liveSocket(TEST_KEYS.owner.key),
      other: liveSocket(TEST_KEYS.other.key),
    };
    const got: Record<string, LiveResult[]> = { anonymous: [], owner: [], other: [] };
    const updates: string[] = [];
    try {
      await Promise.all(
        Object.entries(viewers).map(
          ([who, s]) =>
            new Promise<void>((resolve) => {
              s.on('live:result', (r: LiveResult) => got[who]!.push(r));
              s.once('live:snapshot', () => resolve());
            }),
        ),
      );
      // Everyone tries to watch the owner's next job; only the owner may.
      const nextPrivate = await server.createJob(['person.jpg']);
      for (const [who, s] of Object.entries(viewers)) {
        s.on('job:update', (j: { id: string }) => updates.push(`${who}:${j.id}`));
        const ack = (await s.timeout(2000).emitWithAck('job:watch', { jobId: nextPrivate.id })) as {
          ok: boolean;
        };
        expect(ack.ok, who).toBe(who === 'owner');
      }
      await server.waitForJob(nextPrivate.id);
      const nextPublic = await server.createJob(['000004.jpg'], { public: true });
      await server.waitForJob(nextPublic.id);
      await until(
        () => got.owner!.length === 2 && got.anonymous!.length === 1 && got.other!.length === 1,
        5000,
        'live results',
      );
      expect(got.owner!.map((r) => [r.name, r.jobId])).toEqual([
        ['person.jpg', nextPrivate.id],
        ['000004.jpg', nextPublic.id],
      ]);
      for (const who of ['anonymous', 'other']) {
        expect(got[who]!.map((r) => r.name)).toEqual(['000004.jpg']);
        expect(got[who]![0]).not.toHaveProperty('jobId');
        expect(got[who]![0]!.id).toBe(got.owner![1]!.id);
      }
      await until(() => updates.includes(`owner:${nextPrivate.id}`), 5000, 'job:update to the owner');
      expect(updates.filter((u) => !u.startsWith('owner:'))).toEqual([]);
    } finally {
      for (const s of Object.values(viewers)) s.close();
    }
  });

  it('refuses an invalid key in the /live handshake with unauthorized', async () => {
    const socket = liveSocket('not-a-key-at-all');
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) =>
      socket.once('connect_error', resolve),
    );
    socket.close();
    expect(err.data?.code).toBe('unauthorized');
  });

  it('refuses Socket.IO connections from a foreign Origin, on both namespaces', async () => {
    for (const nsp of ['/live', '/volunteer']) {
      const socket = io(`${server.url}${nsp}`, {
        auth: { protocolVersion: PROTOCOL_VERSION, volunteerId: 'v-evil', kind: 'browser' },
        transports: ['polling'],
        extraHeaders: { origin: 'http://evil.example' },
        reconnection: false,
      });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('connect', () => resolve('connected'));
        socket.once('connect_error', () => resolve('refused'));
      });
      socket.close();
      expect(outcome, nsp).toBe('refused');
    }
    const same = io(`${server.url}/live`, {
      auth: { protocolVersion: PROTOCOL_VERSION },
      transports: ['polling'],
      extraHeaders: { origin: server.url },
      reconnection: false,
    });
    const outcome = await new Promise<string>((resolve) => {
      same.once('connect', () => resolve('connected'));
      same.once('connect_error', () => resolve('refused'));
    });
    same.close();
    expect(outcome).toBe('connected');
  });
});

describe('uploads', () => {
  it('POST /api/jobs: 401 without a valid key, 201 with either key (each owns its own job)', async () => {
    const form = () => {
      const f = new FormData();
      f.append('images', new Blob([new Uint8Array(readImage('dog.jpg'))], { type: 'image/jpeg' }), 'dog.jpg');
      return f;
    };
    for (const caller of CALLERS) {
      const res = await call(caller, '/api/jobs', { method: 'POST', body: form() });
      expect(res.status, caller).toBe(caller === 'owner' || caller === 'other' ? 201 : 401);
      if (res.status !== 201) continue;
      // Let the volunteer finish it before the server closes (no result left in flight).
      const { id } = JSON.parse(res.text) as { id: string };
      await server.waitForJob(id, 20_000, headersOf(caller).authorization!.slice('Bearer '.length));
    }
  });
});
