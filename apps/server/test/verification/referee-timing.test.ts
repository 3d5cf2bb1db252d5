/**
 * The referee's inference time is stored with the task it settles (PROTOCOL.md V8): a refereed
 * result has no result assignment to carry a volunteer's `inferenceMs`, so `live:result` showed 0
 * and the API's timings had nothing. Real server (SQLite, verification on), a real `/live` viewer,
 * one scripted volunteer on probation whose result only the referee can settle.
 */
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type LiveResult } from '@tabgrid/protocol';
import { FakeVolunteer } from '../support/fake-volunteer';
import { TEST_KEYS, until } from '../support/harness';
import { serverPerTest, VERIFYING } from '../support/server-rig';

const rig = serverPerTest();

describe('referee inference time', () => {
  it("is the refereed result's inferenceMs on /live, in the job's timings and in the recent list", async () => {
    const server = await rig.start({ ...VERIFYING, canaryPercent: 0 });
    const viewer = (): Socket => {
      const s = io(`${server.url}/live`, {
        auth: { protocolVersion: PROTOCOL_VERSION, apiKey: TEST_KEYS.owner.key },
        transports: ['websocket'],
      });
      rig.closeAfter(() => s.close());
      return s;
    };
    const live = viewer();
    const results: LiveResult[] = [];
    live.on('live:result', (r: LiveResult) => results.push(r));
    await new Promise((resolve) => live.once('live:snapshot', resolve));

    // A new volunteer's result waits for a replica; no one else connected: the referee settles it.
    const v = await FakeVolunteer.connect(server.url, { id: 'probation', detections: () => [] });
    rig.fakes.push(v);
    const job = await server.createJob(['bus.jpg']);
    const done = await server.waitForJob(job.id, 30_000);
    const [task] = done.tasks;
    expect(task?.verification).toBe('refereed');
    expect(task?.timings.inferenceMs).toBeGreaterThan(0);

    await until(() => results.length === 1, 5000, 'live result');
    expect(results[0]).toMatchObject({ volunteerName: 'referee', inferenceMs: task!.timings.inferenceMs });

    // A viewer arriving later reads it back from the store (the snapshot's recent results).
    const later = viewer();
    const snapshot = await new Promise<{ recent: LiveResult[] }>((resolve) =>
      later.once('live:snapshot', resolve),
    );
    expect(snapshot.recent[0]?.inferenceMs).toBe(task!.timings.inferenceMs);
  }, 60_000);
});
