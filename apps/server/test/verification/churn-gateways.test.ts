/**
 * Rule T13 across gateways (issue 17 A): two gateways on one real Redis, volunteers on distinct
 * loopback /24s. A churner on gateway 1 takes a task and leaves; gateway 1, with no volunteer left,
 * gives the task back to the stream and gateway 2 claims it. The network that lost it there must
 * not get it on gateway 2 either: another identity of that /24 is kept from it, a volunteer of
 * another /24 runs it.
 */
import { PROTOCOL_VERSION, type TaskAssignment } from '@tabgrid/protocol';
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config';
import type { TaskStore } from '../../src/store/task-store';
import { agentFrom } from '../edges/net';
import { FakeVolunteer } from '../support/fake-volunteer';
import { startTestServer, sleep, until, type TestServer } from '../support/harness';
import { tmpDir } from '../support/processes';
import { startRedis, type TestRedis } from '../support/redis';

let redis: TestRedis;
const servers: TestServer[] = [];
const fakes: FakeVolunteer[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const f of fakes.splice(0)) f.close();
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await redis?.stop();
});

/** A fresh identity from `address` that acks the first task offered to it and leaves. */
async function churnOnce(url: string, address: string): Promise<TaskAssignment> {
  const socket = io(`${url}/volunteer`, {
    auth: { protocolVersion: PROTOCOL_VERSION, kind: 'agent' },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    agent: agentFrom(address) as never,
  });
  try {
    return await new Promise<TaskAssignment>((resolve) => {
      socket.on('task:assign', (a: TaskAssignment, ack: (answer: unknown) => void) => {
        ack({ ok: true, data: { accepted: true } });
        resolve(a);
      });
    });
  } finally {
    socket.close();
  }
}

describe('lost networks are shared by every gateway (rule T13, Redis)', () => {
  it('a task a /24 lost on gateway 1 is not offered to that /24 on gateway 2', async () => {
    const config: Partial<ServerConfig> = {
      verification: true,
      distinctNetworks: true,
      canaryPercent: 0,
      refereeBudget: 50,
      refereeWorkers: 1,
      redisUrl: `${redis.url}/1`,
      blobDir: tmpDir('tabgrid-churn-gw-'),
    };
    const one = await startTestServer(config);
    servers.push(one);
    const two = await startTestServer(config);
    servers.push(two);
    // Only gateway 1 has a volunteer, so only it claims the task; the churner takes it and leaves.
    const churned = churnOnce(one.url, '127.0.1.1');
    const job = await one.createJob(['person.jpg']);
    const taken = await churned;
    expect(taken.taskId).toBe((await one.getJob(job.id)).tasks[0]!.id);
    // Another identity of that /24 waits on gateway 2, which claims the task once gateway 1 gives
    // it back (no volunteer left there).
    const sameNetwork = await FakeVolunteer.connect(two.url, { id: 'same-24', localAddress: '127.0.1.2' });
    fakes.push(sameNetwork);
    const claimed = () => (two.store as unknown as TaskStore).getTask(taken.taskId);
    await until(() => claimed(), 15_000, 'gateway 2 claimed the task');
    await sleep(1500);
    expect(sameNetwork.assigned.map((a) => a.taskId)).toEqual([]);
    // A volunteer of another /24 runs it (the referee settles its untrusted result).
    const other = await FakeVolunteer.connect(two.url, { id: 'other-24', localAddress: '127.0.2.1' });
    fakes.push(other);
    await until(() => other.assigned.length > 0, 15_000, 'the other /24 got the task');
    expect(other.assigned[0]!.taskId).toBe(taken.taskId);
    expect((await two.waitForJob(job.id, 40_000)).status).toBe('done');
    expect(sameNetwork.assigned).toEqual([]);
  }, 60_000);
});
