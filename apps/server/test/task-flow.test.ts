import {
  PROTOCOL_VERSION,
  type JobView,
  type LiveResult,
  type LiveSnapshot,
  type LiveStats,
} from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { volunteerPool } from './support/fake-volunteer';
import { TEST_KEYS, readImage, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);
const join = pool.join;

/** Connects to /volunteer with `auth` and returns the code of the handshake's `connect_error`. */
async function handshakeRejection(auth: object): Promise<string | undefined> {
  const socket = io(`${server.url}/volunteer`, { auth, transports: ['websocket'], reconnection: false });
  const err = await new Promise<Error & { data?: { code: string } }>((resolve) =>
    socket.on('connect_error', resolve),
  );
  socket.close();
  return err.data?.code;
}

afterEach(async () => {
  pool.closeAll();
  await server?.close();
});

describe('task flow over real sockets', () => {
  it('rejects a handshake with another protocol version (P1)', async () => {
    server = await startTestServer();
    const code = await handshakeRejection({
      protocolVersion: PROTOCOL_VERSION + 1,
      volunteerId: 'v-old',
      kind: 'browser',
    });
    expect(code).toBe('protocol_version');
  });

  it('rejects a handshake without a volunteer kind', async () => {
    server = await startTestServer();
    const code = await handshakeRejection({ protocolVersion: PROTOCOL_VERSION });
    expect(code).toBe('invalid_payload');
  });

  it('announces the model and its SHA-256 in hello', async () => {
    server = await startTestServer();
    const v = await join('v-hello');
    expect(v.hello?.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(v.hello?.model.labels).toHaveLength(80);
    expect(v.hello?.maxInFlight).toBe(2);
    const res = await fetch(`${server.url}${v.hello!.model.url}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect((await res.arrayBuffer()).byteLength).toBe(v.hello!.model.bytes);
  });

  it('uploads, dispatches, stores the result and pushes it to /live and job watchers', async () => {
    server = await startTestServer();
    const live = io(`${server.url}/live`, {
      auth: { protocolVersion: PROTOCOL_VERSION, apiKey: TEST_KEYS.owner.key },
      transports: ['websocket'],
    });
    const snapshot = await new Promise<LiveSnapshot>((resolve) => live.once('live:snapshot', resolve));
    expect(snapshot.stats.tasks.done).toBe(0);
    expect(snapshot.stats.requeuedLastMinute).toBe(0);
    const pushed = await new Promise<LiveStats>((resolve) => live.once('live:stats', resolve));
    expect(pushed.eventLoopLagMs.p99).toBeGreaterThanOrEqual(0); // a number once the loop was sampled
    const results: LiveResult[] = [];
    live.on('live:result', (r) => results.push(r));

    const job = await server.createJob(['bus.jpg']);
    const watched = await live.timeout(2000).emitWithAck('job:watch', { jobId: job.id });
    expect(watched.ok).toBe(true);
    const updates: JobView[] = [];
    live.on('job:update', (j) => updates.push(j));

    const v = await join('v-1', {
      detections: () => [{ label: 'bus', score: 0.91, box: [14, 231, 800, 735] }],
    });
    const done = await server.waitForJob(job.id);
    expect(done.status).toBe('done');
    const [task] = done.tasks;
    expect(task).toMatchObject({ name: 'bus.jpg', status: 'done', width: 810, height: 1080, attempts: 1 });
    expect(task!.detections).toEqual([{ label: 'bus', score: 0.91, box: [14, 231, 800, 735] }]);
    const t = task!.timings;
    expect(
      t.submittedAt! <= t.assignedAt! && t.assignedAt! <= t.ackedAt! && t.ackedAt! <= t.completedAt!,
    ).toBe(true);
    expect(v.assigned[0]!.image.byteLength).toBe(readImage('bus.jpg').length);

    await until(() => results.length === 1 && updates.some((u) => u.status === 'done'), 5000, 'live result');
    // The live view names the volunteer by its display name, never by its id (rule I7).
    expect(results[0]).toMatchObject({
      jobId: job.id,
      taskId: task!.id,
      own: true,
      volunteerName: v.displayName,
    });
    expect(v.displayName).toMatch(/^[a-z]+-[a-z]+-\d+$/);
    expect(JSON.stringify(results[0])).not.toContain(v.volunteerId);
    const image = await fetch(`${server.url}${results[0]!.imageUrl}`);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await image.arrayBuffer()).equals(readImage('bus.jpg'))).toBe(true);
    live.close();
  });

  it('gives one volunteer at most maxInFlight (2) tasks at once', async () => {
    server = await startTestServer();
    const v = await join('v-holder', { behaviour: 'ack-then-silent' });
    await server.createJob(['bus.jpg', 'dog.jpg', 'person.jpg', '000004.jpg']);
    await until(() => v.assigned.length === 2, 5000, 'two assignments');
    await new Promise((r) => setTimeout(r, 300));
    expect(v.assigned).toHaveLength(2);
    expect(await server.store.counts()).toMatchObject({ running: 2, queued: 2 });
  });

  it('lets a volunteer announcing slots hold slots + 1 tasks (T3)', async () => {
    server = await startTestServer();
    const pool = await join('v-slots', { behaviour: 'ack-then-silent', slots: 3 });
    const single = await join('v-single', { behaviour: 'ack-then-silent' });
    expect(pool.hello?.maxInFlight).toBe(4);
    expect(single.hello?.maxInFlight).toBe(2);
    await server.createJob(Array.from({ length: 8 }, (_, i) => (i % 2 ? 'dog.jpg' : 'bus.jpg')));
    await until(() => pool.assigned.length === 4 && single.assigned.length === 2, 5000, 'six assignments');
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.assigned).toHaveLength(4);
    expect(pool.held.size).toBe(4);
    expect(single.assigned).toHaveLength(2);
    expect(await server.store.counts()).toMatchObject({ running: 6, queued: 2 });
  });

  it('rejects a handshake announcing more than 8 slots', async () => {
    server = await startTestServer();
    const socket = io(`${server.url}/volunteer`, {
      auth: { protocolVersion: PROTOCOL_VERSION, kind: 'browser', slots: 9 },
      transports: ['websocket'],
      reconnection: false,
    });
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) =>
      socket.on('connect_error', resolve),
    );
    expect(err.data?.code).toBe('invalid_payload');
    socket.close();
  });

  it('spreads work to idle volunteers first', async () => {
    server = await startTestServer();
    const a = await join('v-a', { behaviour: 'ack-then-silent' });
    const b = await join('v-b', { behaviour: 'ack-then-silent' });
    await server.createJob(['bus.jpg', 'dog.jpg']);
    await until(() => a.assigned.length + b.assigned.length === 2, 5000, 'assignments');
    expect([a.assigned.length, b.assigned.length]).toEqual([1, 1]);
  });

  it('serves jobs fairly: a small job is not starved by a big one', async () => {
    server = await startTestServer();
    const big = await server.createJob(Array.from({ length: 20 }, () => '000139.jpg'));
    const small = await server.createJob(['dog.jpg', 'person.jpg']);
    const v = await join('v-fair', { delayMs: 1 });
    await server.waitForJob(small.id);
    const order = v.assigned.map((t) => t.jobId);
    const lastSmall = order.lastIndexOf(small.id);
    expect(lastSmall).toBeLessThan(6); // interleaved, not after all 20 big tasks
    await server.waitForJob(big.id);
  });

  it('pauses and resumes a volunteer without disconnecting', async () => {
    server = await startTestServer();
    const v = await join('v-pause');
    const paused = await v.socket.timeout(2000).emitWithAck('volunteer:state', { accepting: false });
    expect(paused).toEqual({ ok: true, data: { accepting: false } });
    const job = await server.createJob(['dog.jpg']);
    await new Promise((r) => setTimeout(r, 200));
    expect(v.assigned).toHaveLength(0);
    await v.socket.timeout(2000).emitWithAck('volunteer:state', { accepting: true });
    expect((await server.waitForJob(job.id)).status).toBe('done');
  });
});
