/**
 * Fault injection, hostile volunteers (item 5): raw socket.io-client peers send
 * malformed and oversized payloads, unknown events, results for tasks they do
 * not hold, impossible results and floods. Each is answered with an error code
 * (or, for an oversized frame, the peer is disconnected); the server never
 * crashes or stalls: after each, an honest volunteer still gets a job done.
 */
import { PROTOCOL_VERSION, type Ack, type TaskAssignment } from '@tabgrid/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeVolunteer, defaultDetections } from './support/fake-volunteer';
import { sleep, startTestServer, until, type TestServer } from './support/harness';

let server: TestServer;
const volunteers: FakeVolunteer[] = [];
const peers: Socket[] = [];
const rejections: Record<string, number> = {};
let honestRuns = 0;

const count = (code: string) => (rejections[code] = (rejections[code] ?? 0) + 1);

/** A raw peer with a valid handshake (a new identity) that speaks whatever it is told to. */
async function rawPeer(label: string): Promise<Socket> {
  const socket = io(`${server.url}/volunteer`, {
    auth: { protocolVersion: PROTOCOL_VERSION, kind: 'agent', runtime: `hostile test peer ${label}` },
    transports: ['websocket'],
    reconnection: false,
  });
  peers.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('hello', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Emits with an ack and a generous timeout; returns the ack. */
function send(socket: Socket, event: string, ...args: unknown[]): Promise<Ack<unknown>> {
  return socket.timeout(10_000).emitWithAck(event, ...args) as Promise<Ack<unknown>>;
}

function expectCode(ack: Ack<unknown>, code: string): void {
  expect(ack).toMatchObject({ ok: false, code });
  if (!ack.ok) {
    expect(typeof ack.message).toBe('string');
    expect(ack.message).not.toMatch(/\n\s+at /); // no stack trace on the wire
  }
  count(code);
}

/** The server still works: a fresh job is dispatched to an honest volunteer and completed. */
async function expectStillServing(): Promise<void> {
  const health = await fetch(`${server.url}/healthz`);
  expect(health.status).toBe(200);
  const honest = await FakeVolunteer.connect(server.url, { id: `v-honest-${++honestRuns}` });
  volunteers.push(honest);
  const job = await server.createJob(['dog.jpg']);
  const done = await server.waitForJob(job.id, 30_000);
  expect(done.status).toBe('done');
  honest.close();
}

beforeAll(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  for (const v of volunteers.splice(0)) v.close();
  for (const p of peers.splice(0)) p.close();
  // Leftover work (requeued after a hostile peer left) must not leak into the next test.
  const unfinished = async () => {
    const counts = await server.store.counts();
    return counts.queued + counts.running;
  };
  if ((await unfinished()) > 0) {
    const drain = await FakeVolunteer.connect(server.url, { id: 'v-drain' });
    await until(async () => (await unfinished()) === 0, 30_000, 'leftover tasks to drain');
    drain.close();
  }
});

afterAll(async () => {
  await server?.close();
  console.log(`[socket-input] rejected hostile inputs by code: ${JSON.stringify(rejections)}`);
});

describe('hostile volunteer input over real sockets', () => {
  it('answers malformed payloads with invalid_payload', async () => {
    const peer = await rawPeer('p-malformed');
    const bad: [string, unknown][] = [
      ['task:result', 'not an object'],
      ['task:result', null],
      ['task:result', 42],
      ['task:result', []],
      ['task:result', { assignmentId: 'asg_x' }],
      ['task:result', { assignmentId: '../../etc', detections: [], inferenceMs: 1 }],
      ['task:result', { assignmentId: 'a'.repeat(65), detections: [], inferenceMs: 1 }],
      ['task:result', { assignmentId: 'asg_x', detections: 'many', inferenceMs: 1 }],
      ['task:result', { assignmentId: 'asg_x', detections: [], inferenceMs: -1 }],
      ['task:result', { assignmentId: 'asg_x', detections: [], inferenceMs: 'fast' }],
      ['task:heartbeat', { assignmentIds: 'asg_x' }],
      ['task:heartbeat', { assignmentIds: Array.from({ length: 17 }, (_, i) => `asg_${i}`) }],
      ['task:error', { assignmentId: 'asg_x', code: 'bored', message: 'x' }],
      ['task:error', { assignmentId: 'asg_x', code: 'undecodable', message: 'x'.repeat(501) }],
      ['volunteer:state', { accepting: 'yes' }],
      ['volunteer:state', undefined],
    ];
    for (const [event, payload] of bad) expectCode(await send(peer, event, payload), 'invalid_payload');
    // Without an ack callback there is nobody to answer; the server must just ignore it.
    peer.emit('task:result', { garbage: true });
    peer.emit('task:heartbeat');
    expectCode(await send(peer, 'task:result', {}), 'invalid_payload'); // the connection still answers
    expect(peer.connected).toBe(true);
    await expectStillServing();
  });

  it('answers unknown event names with unknown_event', async () => {
    const peer = await rawPeer('p-unknown');
    for (const event of ['task:steal', 'admin:shutdown', 'hello', 'job:watch', 'x'.repeat(5000)]) {
      expectCode(await send(peer, event, { anything: true }), 'unknown_event');
    }
    peer.emit('no:ack', 1, 2, 3);
    expect(peer.connected).toBe(true);
    await expectStillServing();
  });

  it('disconnects a peer whose frame is over maxHttpBufferSize (256 KiB) and keeps serving others', async () => {
    const bystander = await FakeVolunteer.connect(server.url, {
      id: 'v-bystander',
      behaviour: 'ack-then-silent',
    });
    volunteers.push(bystander);
    const peer = await rawPeer('p-oversized');
    const reason = new Promise<string>((resolve) => peer.once('disconnect', resolve));
    const huge = { assignmentId: 'asg_x', detections: [], inferenceMs: 1, pad: 'x'.repeat(300 * 1024) };
    peer.emit('task:result', huge, () => undefined);
    expect(await reason).toMatch(/transport (close|error)/);
    count('oversized frame: disconnected');
    // Binary attachments count too.
    const peer2 = await rawPeer('p-oversized-binary');
    const reason2 = new Promise<string>((resolve) => peer2.once('disconnect', resolve));
    peer2.emit('task:result', { blob: new Uint8Array(400 * 1024) }, () => undefined);
    expect(await reason2).toMatch(/transport (close|error)/);
    count('oversized frame: disconnected');
    expect(bystander.socket.connected).toBe(true);
    bystander.close();
    await expectStillServing();
  });

  it('rejects results for assignments this volunteer does not hold with not_holder', async () => {
    const holder = await FakeVolunteer.connect(server.url, { id: 'v-holder', behaviour: 'ack-then-silent' });
    volunteers.push(holder);
    const job = await server.createJob(['bus.jpg']);
    await until(() => holder.assigned.length === 1, 10_000, 'assignment');
    const theirs = holder.assigned[0]!;

    const thief = await rawPeer('p-thief');
    const forged = { detections: defaultDetections(theirs), inferenceMs: 3 };
    expectCode(
      await send(thief, 'task:result', { assignmentId: theirs.assignmentId, ...forged }),
      'not_holder',
    );
    expectCode(
      await send(thief, 'task:result', { assignmentId: 'asg_doesnotexist', ...forged }),
      'not_holder',
    );
    expectCode(
      await send(thief, 'task:error', {
        assignmentId: theirs.assignmentId,
        code: 'undecodable',
        message: 'no',
      }),
      'not_holder',
    );
    const hb = await send(thief, 'task:heartbeat', { assignmentIds: [theirs.assignmentId] });
    expect(hb).toEqual({ ok: true, data: { renewed: [], lost: [theirs.assignmentId] } });

    // The real holder's task is untouched and its result is still accepted.
    expect((await server.getJob(job.id)).tasks[0]!.status).toBe('running');
    expect(await holder.answer(theirs)).toEqual({ ok: true, data: { accepted: true, duplicate: false } });
    expect((await server.getJob(job.id)).tasks[0]).toMatchObject({ status: 'done', attempts: 1 });
    holder.close(); // it never answers on its own; the thief stays connected
    await expectStillServing();
  });

  it('rejects impossible results (NaN/null, boxes outside the image, unknown labels) and re-runs the task', async () => {
    const liar = await FakeVolunteer.connect(server.url, { id: 'v-liar', behaviour: 'ack-then-silent' });
    volunteers.push(liar);
    const job = await server.createJob(['dog.jpg']);
    await until(() => liar.assigned.length === 1, 10_000, 'assignment');
    const task: TaskAssignment = liar.assigned[0]!;
    const { width, height } = task;

    const schemaBad: unknown[] = [
      [{ label: 'dog', score: NaN, box: [1, 1, 2, 2] }], // NaN travels as null in JSON
      [{ label: 'dog', score: 0.5, box: [1, NaN, 2, 2] }],
      [{ label: 'dog', score: null, box: [1, 1, 2, 2] }],
      [{ label: 'dog', score: 0.5, box: null }],
      [{ label: 'dog', score: 0.5, box: [1, 1, 2] }],
      [{ label: 'dog', score: 1.5, box: [1, 1, 2, 2] }],
      [{ label: 'dog', score: 0.5, box: [5, 5, 1, 1] }], // x2 < x1
      [{ label: '', score: 0.5, box: [1, 1, 2, 2] }],
      [null],
      Array.from({ length: 301 }, () => ({ label: 'dog', score: 0.5, box: [1, 1, 2, 2] })),
    ];
    for (const detections of schemaBad) {
      const ack = await send(liar.socket as unknown as Socket, 'task:result', {
        assignmentId: task.assignmentId,
        detections,
        inferenceMs: 1,
      });
      expectCode(ack, 'invalid_payload');
    }
    const nan = await send(liar.socket as unknown as Socket, 'task:result', {
      assignmentId: task.assignmentId,
      detections: [],
      inferenceMs: NaN,
    });
    expectCode(nan, 'invalid_payload');
    // Schema failures change nothing: the lease is still held.
    expect((await server.getJob(job.id)).tasks[0]).toMatchObject({ status: 'running', attempts: 1 });

    // Well-formed but impossible: a box far outside the image. The lease is ended and the task re-queued.
    const outside = await liar.answer(task, [
      { label: 'dog', score: 0.9, box: [0, 0, width + 100, height + 100] },
    ]);
    expectCode(outside as Ack<unknown>, 'impossible_result');
    await until(() => liar.assigned.length === 2, 10_000, 're-assignment after impossible result');
    const again = liar.assigned[1]!;
    const negative = await liar.answer(again, [{ label: 'dog', score: 0.9, box: [-50, -50, 10, 10] }]);
    expectCode(negative as Ack<unknown>, 'impossible_result');
    await until(() => liar.assigned.length === 3, 10_000, 're-assignment');
    const third = liar.assigned[2]!;
    const unknown = await liar.answer(third, [{ label: 'unicorn', score: 0.9, box: [1, 1, 2, 2] }]);
    expectCode(unknown as Ack<unknown>, 'impossible_result');

    // Nothing impossible was stored; an honest volunteer completes the task.
    liar.close();
    const honest = await FakeVolunteer.connect(server.url, { id: 'v-honest-impossible' });
    volunteers.push(honest);
    const done = await server.waitForJob(job.id, 30_000);
    expect(done.tasks[0]!.status).toBe('done');
    expect(done.tasks[0]!.detections).toEqual(defaultDetections(task));
    await expectStillServing();
  });

  it('rate-limits a flood with rate_limited, then disconnects a peer that keeps flooding', async () => {
    const peer = await rawPeer('p-flood');
    const acks = await Promise.all(
      Array.from({ length: 300 }, () => send(peer, 'task:heartbeat', { assignmentIds: [] })),
    );
    const limited = acks.filter((a) => !a.ok && a.code === 'rate_limited').length;
    const served = acks.filter((a) => a.ok).length;
    expect(limited).toBeGreaterThan(0);
    expect(served).toBeGreaterThan(0);
    rejections.rate_limited = (rejections.rate_limited ?? 0) + limited;
    console.log(`[socket-input] flood of 300: ${served} served, ${limited} rate_limited`);

    // Keep flooding (unknown events, no acks): more than 1000 dropped events -> disconnected.
    const flooder = await rawPeer('p-flood-2');
    const gone = new Promise<string>((resolve) => flooder.once('disconnect', resolve));
    for (let i = 0; i < 1500 && flooder.connected; i++) flooder.emit('task:heartbeat', { assignmentIds: [] });
    expect(await gone).toMatch(/io server disconnect|transport close/);
    count('flood: disconnected');

    // After a pause the first peer is served again.
    await sleep(1100);
    expect(await send(peer, 'task:heartbeat', { assignmentIds: [] })).toMatchObject({ ok: true });
    await expectStillServing();
  });
});
