/**
 * `job:changes` (PROTOCOL.md rule L12): a watcher that asks for changes gets only the tasks that
 * changed and the job's counts, never the whole job again; applied to the watch's answer they give
 * the job's view as the API answers it. A watcher that does not ask still gets whole views.
 */
import {
  PROTOCOL_VERSION,
  applyJobChanges,
  type JobChanges,
  type JobView,
  type LiveClientToServer,
  type LiveServerToClient,
} from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { volunteerPool } from './support/fake-volunteer';
import { TEST_KEYS, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const pool = volunteerPool(() => server.url);
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  pool.closeAll();
  await server?.close();
});

function liveSocket(): Socket<LiveServerToClient, LiveClientToServer> {
  const s: Socket<LiveServerToClient, LiveClientToServer> = io(`${server.url}/live`, {
    auth: { protocolVersion: PROTOCOL_VERSION, apiKey: TEST_KEYS.owner.key },
    transports: ['websocket'],
  });
  sockets.push(s);
  return s;
}

const PHOTOS = 24;

describe('job:changes (rule L12)', () => {
  it('sends only the changed tasks and the counts; applied to the watch answer they give the API view', async () => {
    server = await startTestServer();
    const job = await server.createJob(
      Array.from({ length: PHOTOS }, (_, i) => ['bus.jpg', 'dog.jpg', 'person.jpg'][i % 3]!),
    );

    const deltas = liveSocket();
    const watched = await deltas.timeout(2000).emitWithAck('job:watch', { jobId: job.id, changes: true });
    expect(watched.ok).toBe(true);
    let view = (watched as { ok: true; data: JobView }).data;
    const changes: JobChanges[] = [];
    let consistent = true;
    deltas.on('job:changes', (c) => {
      changes.push(c);
      const next = applyJobChanges(view, c);
      view = next.view;
      consistent &&= next.consistent;
    });
    const wholeOnDeltas: JobView[] = [];
    deltas.on('job:update', (v) => wholeOnDeltas.push(v));

    const whole = liveSocket();
    expect((await whole.timeout(2000).emitWithAck('job:watch', { jobId: job.id })).ok).toBe(true);
    const updates: JobView[] = [];
    whole.on('job:update', (v) => updates.push(v));

    await pool.join('v-1');
    await pool.join('v-2');
    const done = await server.waitForJob(job.id);
    await until(() => view.status === 'done' && updates.at(-1)?.status === 'done', 5000, 'the last pushes');

    // The watch's answer plus every change is the API's view (less the two fields only GET has).
    const { cancelledAt: _cancelled, expected: _expected, ...apiView } = done;
    expect(view).toEqual(apiView);
    expect(consistent).toBe(true);
    expect(changes.length).toBeGreaterThan(1);
    // Each change carries fewer than all the tasks (each task changes at least twice: running, done).
    const sent = changes.reduce((n, c) => n + c.tasks.length, 0);
    expect(Math.max(...changes.map((c) => c.tasks.length))).toBeLessThan(PHOTOS);
    expect(sent).toBeLessThan(changes.length * PHOTOS);
    expect(changes.at(-1)!.counts).toEqual({ total: PHOTOS, queued: 0, running: 0, done: PHOTOS, failed: 0 });
    // One shape per watcher: whole views go only to the watcher that did not ask for changes.
    expect(wholeOnDeltas).toEqual([]);
    expect(updates.at(-1)).toEqual(apiView);
    expect(updates.every((u) => u.tasks.length === PHOTOS)).toBe(true);
  });

  it('counts that disagree with the view say that a change was missed', () => {
    const task = (id: string, status: 'queued' | 'done') => ({
      id,
      name: `${id}.jpg`,
      status,
      width: 1,
      height: 1,
      detections: [],
      timings: { submittedAt: 1, assignedAt: null, ackedAt: null, completedAt: null },
      attempts: 0,
      error: null,
      verification: null,
      agreeing: 0,
    });
    const view: JobView = {
      id: 'job_1',
      status: 'queued',
      createdAt: 1,
      tasks: [task('a', 'queued'), task('b', 'queued')],
    };
    const counts = { total: 2, queued: 0, running: 0, done: 2, failed: 0 };
    // Only b's change arrived, though the server counts both done.
    const missed = applyJobChanges(view, { id: 'job_1', status: 'done', counts, tasks: [task('b', 'done')] });
    expect(missed.consistent).toBe(false);
    const both = applyJobChanges(missed.view, {
      id: 'job_1',
      status: 'done',
      counts,
      tasks: [task('a', 'done')],
    });
    expect(both.consistent).toBe(true);
    expect(both.view.tasks.map((t) => t.status)).toEqual(['done', 'done']);
  });
});
