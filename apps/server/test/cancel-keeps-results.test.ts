/**
 * `POST /api/jobs/:id/cancel` (issue 20, "cancel is not delete"): stops the unfinished tasks —
 * volunteers holding them get `task:cancel` (`cancelled`) — and keeps the job: its finished
 * results, their images and its exports stay; the job's view and list entry say when it was
 * cancelled. Owner only, idempotent. `?expected=N` on `POST /api/jobs` is kept with the job.
 * Real server and sockets, on SQLite and on a real redis-server.
 */
import { JobCancelledSchema, JobListSchema, JobViewSchema, type ErrorCode } from '@tabgrid/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { volunteerPool } from './support/fake-volunteer';
import { TEST_KEYS, bearer, readImage, startTestServer, until, type TestServer } from './support/harness';
import { startRedis, type TestRedis } from './support/redis';

let server: TestServer;
let redis: TestRedis | undefined;
const pool = volunteerPool(() => server.url);

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

const PHOTOS = ['000004.jpg', '000139.jpg', '000148.jpg', '000181.jpg', '000230.jpg', 'person.jpg'];

async function upload(query: string): Promise<Response> {
  const form = new FormData();
  for (const name of PHOTOS)
    form.append(
      'images',
      new Blob([readImage(name) as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
      name,
    );
  return fetch(`${server.url}/api/jobs${query}`, { method: 'POST', body: form, headers: bearer() });
}

describe.each(['sqlite', 'redis'] as const)('POST /api/jobs/:id/cancel (%s)', (backend) => {
  it('stops unfinished tasks, keeps the job with its results, images and export, says it was cancelled', async () => {
    server = await startTestServer(
      backend === 'redis' ? { redisUrl: redis!.url, gatewayId: `gw-cancel-keep-${Date.now()}` } : {},
    );
    const v = await pool.join(`v-${backend}`, { behaviour: 'ack-then-silent', slots: 3 });
    const reasons = new Map<string, ErrorCode>();
    v.socket.on('task:cancel', ({ assignmentId, reason }) => reasons.set(assignmentId, reason));

    // A bad `expected` is refused with a clear error; a good one is kept with the job.
    const bad = await upload('?expected=lots');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'bad_request', message: /expected must be/ } });
    const created = await upload('?expected=8');
    expect(created.status).toBe(201);
    const job = (await created.json()) as { id: string };

    await until(() => v.held.size === 4, 5000, 'four held tasks');
    const first = v.assigned[0]!;
    expect(await v.answer(first)).toMatchObject({ ok: true, data: { accepted: true } });
    await until(() => v.assigned.length === 5 && v.held.size === 4, 5000, 'the refill');
    const held = [...v.held];

    const url = `${server.url}/api/jobs/${job.id}/cancel`;
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    const foreign = await fetch(url, { method: 'POST', headers: bearer(TEST_KEYS.other.key) });
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ error: { code: 'not_found' } });
    expect(
      (await fetch(`${server.url}/api/jobs/nope/cancel`, { method: 'POST', headers: bearer() })).status,
    ).toBe(404);

    const res = await fetch(url, { method: 'POST', headers: bearer() });
    expect(res.status).toBe(200);
    const cancelled = JobCancelledSchema.parse(await res.json());
    expect(cancelled).toMatchObject({ id: job.id, cancelled: 5 });

    await until(() => held.every((id) => reasons.has(id)), 5000, 'task:cancel for every held task');
    expect(new Set(held.map((id) => reasons.get(id)))).toEqual(new Set(['cancelled']));

    // The job stays: its finished result, that result's image and the export.
    const view = JobViewSchema.parse(
      await (await fetch(`${server.url}/api/jobs/${job.id}`, { headers: bearer() })).json(),
    );
    expect(view).toMatchObject({ cancelledAt: cancelled.cancelledAt, expected: 8 });
    expect(view.tasks.find((t) => t.id === first.taskId)).toMatchObject({ status: 'done' });
    for (const t of view.tasks.filter((x) => x.id !== first.taskId))
      expect(t).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });
    const image = await fetch(`${server.url}/api/jobs/${job.id}/tasks/${first.taskId}/image`, {
      headers: bearer(),
    });
    expect(image.status).toBe(200);
    const exported = await fetch(`${server.url}/api/jobs/${job.id}/export?format=csv`, { headers: bearer() });
    expect(exported.status).toBe(200);
    expect(await exported.text()).toContain(first.name);

    const list = JobListSchema.parse(
      await (await fetch(`${server.url}/api/jobs`, { headers: bearer() })).json(),
    );
    expect(list.jobs.find((j) => j.id === job.id)).toMatchObject({
      deletedAt: null,
      cancelledAt: cancelled.cancelledAt,
      expected: 8,
      tasks: { total: 6, done: 1, failed: 5 },
    });

    // Idempotent: nothing new, the first time stays. More photos are refused.
    const again = JobCancelledSchema.parse(
      await (await fetch(url, { method: 'POST', headers: bearer() })).json(),
    );
    expect(again).toEqual({ id: job.id, cancelled: 0, cancelledAt: cancelled.cancelledAt });
    const form = new FormData();
    form.append(
      'images',
      new Blob([readImage('person.jpg') as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }),
      'more.jpg',
    );
    const more = await fetch(`${server.url}/api/jobs/${job.id}/images`, {
      method: 'POST',
      body: form,
      headers: bearer(),
    });
    expect(more.status).toBe(409);
    expect(await more.json()).toMatchObject({ error: { message: /was cancelled/ } });

    // Delete is still its own step; a deleted job cannot be cancelled.
    expect(
      (await fetch(`${server.url}/api/jobs/${job.id}`, { method: 'DELETE', headers: bearer() })).status,
    ).toBe(200);
    const gone = await fetch(url, { method: 'POST', headers: bearer() });
    expect(gone.status).toBe(409);
  });
});
