/**
 * The edge defences hold across gateways (issue 17 A, E, G): two gateways on one real Redis, in
 * this process, clients on distinct loopback /24s (`TABGRID_DISTINCT_NETWORKS` on). An attacker
 * who spreads over gateways gets no more than from one: the new-identity quota per network, the
 * failed sign-in throttle per address and a network's stall penalty are shared. The stall penalty
 * is checked on SQLite (one process) too.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config';
import { FakeVolunteer } from '../support/fake-volunteer';
import { startTestServer, until, type TestServer } from '../support/harness';
import { tmpDir } from '../support/processes';
import { startRedis, type TestRedis } from '../support/redis';
import { connectFrom, rawRequest } from './net';

let redis: TestRedis;
let db = 0;
const servers: TestServer[] = [];
const fakes: FakeVolunteer[] = [];
const closers: (() => void)[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const f of fakes.splice(0)) f.close();
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await redis?.stop();
});

/** Two gateways on one Redis database of their own. */
async function twoGateways(config: Partial<ServerConfig>): Promise<[TestServer, TestServer]> {
  const shared = {
    ...config,
    distinctNetworks: true,
    redisUrl: `${redis.url}/${++db}`,
    blobDir: tmpDir('tabgrid-edges-'),
  };
  const one = await startTestServer(shared);
  servers.push(one);
  const two = await startTestServer(shared);
  servers.push(two);
  return [one, two];
}

/** A new volunteer from `address` on `url`: `accepted`, or the refusal's code. */
async function join(url: string, address: string): Promise<string> {
  const { socket, error } = await connectFrom(url, '/volunteer', address, { kind: 'agent' });
  closers.push(() => socket.close());
  return error ? (error.data?.code ?? error.message) : 'accepted';
}

describe('the edge defences are shared by every gateway (Redis)', () => {
  it('TABGRID_NEW_IDENTITIES_PER_HOUR counts a network over both gateways', async () => {
    const [one, two] = await twoGateways({ newIdentitiesPerHour: 3 });
    expect(await join(one.url, '127.0.1.1')).toBe('accepted');
    expect(await join(two.url, '127.0.1.2')).toBe('accepted');
    expect(await join(one.url, '127.0.1.3')).toBe('accepted');
    // The network's quota is used, whichever gateway it tries.
    expect(await join(two.url, '127.0.1.4')).toBe('rate_limited');
    expect(await join(one.url, '127.0.1.5')).toBe('rate_limited');
    expect(await join(two.url, '127.0.2.1')).toBe('accepted'); // another /24
  });

  it('failed sign-ins on one gateway throttle the address on the other', async () => {
    const [one, two] = await twoGateways({ signInFailuresPerMinute: 3 });
    const guess = (url: string, localAddress: string) =>
      rawRequest(url, '/api/me', {
        headers: { authorization: 'Bearer tg_wrongwrongwrongwrongwrong' },
        localAddress,
      });
    for (const url of [one.url, two.url, one.url]) expect((await guess(url, '127.0.3.1')).status).toBe(401);
    const refused = await guess(two.url, '127.0.3.1');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await guess(one.url, '127.0.3.1')).status).toBe(429);
    expect((await guess(two.url, '127.0.4.1')).status).toBe(401); // another address
  });
});

describe("a network's stall penalty is held against its new identities (rule V11, issue 17 E)", () => {
  /** A volunteer with 4 slots that acks a task, never heartbeats, and so stalls once. */
  async function stallOnce(server: TestServer, address: string): Promise<void> {
    const staller = await FakeVolunteer.connect(server.url, {
      id: `staller-${address}`,
      behaviour: 'no-heartbeat',
      slots: 4,
      localAddress: address,
    });
    fakes.push(staller);
    await server.createJob(['person.jpg']);
    await until(() => staller.assigned.length > 0, 10_000, 'the staller got the task');
    const first = staller.assigned[0]!.assignmentId;
    await until(() => staller.cancelled.includes(first), 10_000, 'its lease lapsed');
    staller.close();
  }

  /** The task limit a new identity from `address` gets in its `hello` (4 slots ask for 5). */
  const fresh = async (server: TestServer, address: string) => {
    const v = await FakeVolunteer.connect(server.url, {
      id: `fresh-${address}`,
      slots: 4,
      localAddress: address,
      behaviour: 'no-ack',
    });
    v.close();
    return v.hello!.maxInFlight;
  };

  it("SQLite: a fresh identity from the staller's /24 starts with fewer tasks; another /24 does not", async () => {
    const server = await startTestServer({ distinctNetworks: true, leaseMs: 300 });
    servers.push(server);
    expect(await fresh(server, '127.0.5.9')).toBe(5); // 4 slots + 1 prefetched
    await stallOnce(server, '127.0.5.1');
    expect(await fresh(server, '127.0.5.2')).toBe(2); // one halving
    expect(await fresh(server, '127.0.6.1')).toBe(5);
  });

  it('Redis: a stall on gateway 1 is held against a fresh identity of that /24 on gateway 2', async () => {
    const [one, two] = await twoGateways({ leaseMs: 300 });
    await stallOnce(one, '127.0.7.1');
    expect(await fresh(two, '127.0.7.2')).toBe(2);
    expect(await fresh(two, '127.0.8.1')).toBe(5);
  });
});
