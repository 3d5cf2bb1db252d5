/**
 * The `/live` snapshot's recent results in Redis mode (issue 10): a viewer connecting to gateway 3
 * gets the results completed on gateways 1 and 2, under the rules of SQLite mode (PROTOCOL.md
 * L2-L4): public jobs' results for everyone, without ids; a requester's own private results only
 * on its own connection, with ids; nothing of a deleted job. Real redis-server, three in-process
 * gateways, real Socket.IO volunteers and viewers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NAMESPACES, PROTOCOL_VERSION, type LiveSnapshot } from '@tabgrid/protocol';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeVolunteer } from './support/fake-volunteer';
import { TEST_KEYS, bearer, startTestServer, until, type TestServer } from './support/harness';
import { startRedis, type TestRedis } from './support/redis';

let redis: TestRedis;
const gateways: TestServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabgrid-blobs-'));
  for (let i = 0; i < 3; i++)
    gateways.push(await startTestServer({ redisUrl: redis.url, blobDir, gatewayId: `gw-recent-${i + 1}` }));
});
afterAll(async () => {
  for (const g of gateways) await g.close();
  await redis?.stop();
});

/** The snapshot a new `/live` connection to `url` gets (with `apiKey`, a requester's view). */
async function snapshot(url: string, apiKey?: string): Promise<LiveSnapshot> {
  const socket = io(`${url}${NAMESPACES.live}`, {
    transports: ['websocket'],
    reconnection: false,
    auth: { protocolVersion: PROTOCOL_VERSION, ...(apiKey ? { apiKey } : {}) },
  });
  try {
    return await new Promise<LiveSnapshot>((resolve, reject) => {
      socket.once('live:snapshot', resolve);
      socket.once('connect_error', reject);
    });
  } finally {
    socket.close();
  }
}

/** Runs a job on one gateway: a volunteer joins it alone, the job finishes, the volunteer leaves. */
async function runOn(
  g: TestServer,
  upload: TestServer,
  names: string[],
  options: { key?: string; public?: boolean },
) {
  const v = await FakeVolunteer.connect(g.url, { id: `runner-${names[0]}` });
  try {
    const job = await upload.createJob(names, options);
    const done = await upload.waitForJob(job.id, 20_000, options.key);
    expect(done.tasks.every((t) => t.status === 'done')).toBe(true);
    // Every result was run by this gateway's volunteer.
    expect(v.results).toHaveLength(names.length);
    return job;
  } finally {
    v.close();
    await until(() => g.scheduler.volunteersOnline === 0, 5000, 'the volunteer to leave');
  }
}

describe('the /live snapshot on gateway 3 in Redis mode', () => {
  it("has the recent public results completed on gateways 1 and 2, a requester's own private ones, none of a deleted job", async () => {
    const [g1, g2, g3] = gateways as [TestServer, TestServer, TestServer];
    const A = ['000004.jpg', '000139.jpg', '000148.jpg'];
    const B = ['000181.jpg', '000230.jpg', 'person.jpg'];
    const C = ['bus.jpg', 'dog.jpg'];
    await runOn(g1, g1, A, { public: true });
    const b = await runOn(g2, g1, B, { public: true });
    await runOn(g2, g2, C, { key: TEST_KEYS.other.key, public: false });

    const anyone = await snapshot(g3.url);
    expect(anyone.recent.map((r) => r.name).sort()).toEqual([...A, ...B].sort());
    for (const r of anyone.recent) {
      expect(r.own).toBe(false);
      expect(r).not.toHaveProperty('taskId');
      expect(r.detections.length).toBeGreaterThan(0);
    }
    // Newest first: job B finished after job A.
    expect(
      anyone.recent
        .slice(0, 3)
        .map((r) => r.name)
        .sort(),
    ).toEqual([...B].sort());

    const other = await snapshot(g3.url, TEST_KEYS.other.key);
    expect(other.recent.map((r) => r.name).sort()).toEqual([...A, ...B, ...C].sort());
    const own = other.recent.filter((r) => r.own);
    expect(own.map((r) => r.name).sort()).toEqual([...C].sort());
    expect(own.every((r) => r.taskId && r.jobId)).toBe(true);

    // Deleted: its results leave the snapshot at once (PROTOCOL.md L2).
    const res = await fetch(`${g1.url}/api/jobs/${b.id}`, { method: 'DELETE', headers: bearer() });
    expect(res.status).toBe(200);
    const after = await snapshot(g3.url);
    expect(after.recent.map((r) => r.name).sort()).toEqual([...A].sort());
    const admin = new Redis(redis.url);
    // The list is capped and carries ids only: one entry per result so far.
    expect(await admin.llen('tg:live:recent')).toBe(A.length + B.length + C.length);
    admin.disconnect();
  });
});
