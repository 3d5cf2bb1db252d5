/**
 * Fan-out across gateways on a real Redis 7 (`startRedis()`: a private redis-server): the sharded
 * Socket.IO adapter carries `/live` room broadcasts from one gateway's Socket.IO server to a viewer
 * on another (real sockets), `/volunteer` stays in memory (no channel of it exists in Redis), and
 * the live figures add up over live gateways, with a gateway that stops publishing dropping out.
 * The full multi-gateway scheduling test is `multi-gateway.test.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NAMESPACES, PROTOCOL_VERSION, type JobView, type LiveStats } from '@tabgrid/protocol';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterStats, LIVE_GATEWAYS_KEY } from '../src/fanout/cluster-stats';
import type { Fanout } from '../src/fanout/fanout';
import { openRedisFanout } from '../src/fanout/redis-fanout';
import { FakeVolunteer } from './support/fake-volunteer';
import { startTestServer, until, type TestServer } from './support/harness';
import { startRedis, type TestRedis } from './support/redis';

let redis: TestRedis;
let admin: Redis;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  admin.on('error', () => {}); // Redis is killed on purpose below; commands retry meanwhile
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await admin.flushall();
});

/** A bare Socket.IO gateway (HTTP on port 0) with the Redis fan-out's adapter. */
async function gateway(id: string): Promise<{ io: Server; url: string; fanout: Fanout }> {
  const fanout = await openRedisFanout({ redisUrl: redis.url, gatewayId: id });
  const httpServer = http.createServer();
  const server = new Server(httpServer, { adapter: fanout.adapter });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fanout.close();
  });
  return { io: server, url, fanout };
}

function connect(url: string, nsp: string, auth: Record<string, unknown> = {}): Socket {
  const socket = io(`${url}${nsp}`, { transports: ['websocket'], reconnection: false, auth });
  cleanups.push(() => void socket.close());
  return socket;
}

const shardChannels = async () => ((await admin.call('PUBSUB', 'SHARDCHANNELS')) as string[]).sort();

describe('the sharded Redis adapter between gateways', () => {
  it('delivers a room broadcast from gateway 1 to a watcher on gateway 3, and keeps /volunteer local', async () => {
    const g1 = await gateway('g1');
    const g3 = await gateway('g3');
    g3.io.of(NAMESPACES.live).on('connection', (socket) => void socket.join('job:42'));
    g3.io.of(NAMESPACES.volunteer).on('connection', () => {});
    g1.io.of(NAMESPACES.volunteer);
    const watcher = connect(g3.url, NAMESPACES.live);
    const volunteer = connect(g3.url, NAMESPACES.volunteer);
    await Promise.all([watcher, volunteer].map((s) => until(() => s.connected, 5000, 'connected')));
    // The room's own sharded channel exists while gateway 3 has a member; none for /volunteer.
    await until(async () => (await shardChannels()).includes('tg:sio#/live#job:42#'), 5000, 'room channel');
    const channels = await shardChannels();
    expect(channels.filter((c) => c.includes(NAMESPACES.volunteer))).toEqual([]);
    expect(channels.every((c) => c.startsWith('tg:sio#/live#'))).toBe(true);

    // Gateway 1 sees that someone watches job 42 elsewhere, and that nobody watches job 99.
    expect(await g1.fanout.hasMembers('job:42', 0)).toBe(true);
    expect(await g1.fanout.hasMembers('job:99', 0)).toBe(false);

    const updates: unknown[] = [];
    watcher.on('job:update', (job: unknown) => updates.push(job));
    g1.io
      .of(NAMESPACES.live)
      .to('job:42')
      .emit('job:update', { id: 'job-42' } as unknown as JobView);
    await until(() => updates.length === 1, 5000, 'the update on gateway 3');
    expect(updates).toEqual([{ id: 'job-42' }]);
  });
});

describe('while Redis is away', () => {
  it("keeps delivering to a gateway's own viewers, and across gateways again once Redis is back", async () => {
    const g1 = await gateway('g1');
    const g3 = await gateway('g3');
    for (const g of [g1, g3])
      g.io.of(NAMESPACES.live).on('connection', (socket) => void socket.join('job:7'));
    const local = connect(g1.url, NAMESPACES.live);
    const remote = connect(g3.url, NAMESPACES.live);
    await Promise.all([local, remote].map((s) => until(() => s.connected, 5000, 'connected')));
    await until(async () => (await shardChannels()).includes('tg:sio#/live#job:7#'), 5000, 'room channel');
    const seen = { local: [] as number[], remote: [] as number[] };
    local.on('job:update', (n: number) => seen.local.push(n));
    remote.on('job:update', (n: number) => seen.remote.push(n));
    const emit = (n: number) =>
      g1.io
        .of(NAMESPACES.live)
        .to('job:7')
        .emit('job:update', n as unknown as JobView);

    await redis.kill9();
    emit(1);
    // The publish fails at once (no offline queue), so the local viewer is not held up by Redis.
    await until(() => seen.local.includes(1), 2000, 'the local update while Redis is down');

    await redis.restart();
    // The subscriber reconnects and resubscribes by itself; updates cross gateways again.
    await until(
      () => {
        emit(2);
        return seen.remote.includes(2);
      },
      15_000,
      'an update from gateway 1 on gateway 3 after the restart',
    );
    expect(seen.local).toContain(2);
  });
});

describe('live figures over all live gateways', () => {
  const figures = (volunteersOnline: number): LiveStats => ({
    at: 1,
    volunteersOnline,
    tasks: { queued: 0, running: 0, done: 0, failed: 0 },
    ackLatencyMs: { count: 0, p50: null, p95: null, p99: null },
    resultLatencyMs: { count: 0, p50: null, p95: null, p99: null },
    inferenceMs: { count: 0, p50: null, p95: null, p99: null },
    resultsLastMinute: 0,
    requeuedLastMinute: 0,
    eventLoopLagMs: { p50: null, p99: null, max: null },
  });

  it('adds up the gateways that published within the TTL; a silent gateway drops out and is deleted', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const connections = [new Redis(redis.url), new Redis(redis.url), new Redis(redis.url)];
    cleanups.push(() => connections.forEach((c) => c.disconnect()));
    const [a, b, c] = connections.map(
      (conn, i) => new ClusterStats(conn, `gw${i}`, { ttlMs: 3000, now: clock }),
    );
    await a!.exchange(figures(2));
    await b!.exchange(figures(3));
    await c!.exchange(figures(4));
    await a!.exchange(figures(2));
    expect(a!.combine(figures(2)).volunteersOnline).toBe(9);

    now += 2000; // a and b publish again; c has died
    await b!.exchange(figures(3));
    await a!.exchange(figures(2));
    expect(a!.combine(figures(2)).volunteersOnline).toBe(9);
    now += 1500; // c's snapshot is now 3.5 s old: past its TTL
    await a!.exchange(figures(2));
    expect(a!.combine(figures(2)).volunteersOnline).toBe(5);
    expect(await admin.hexists(LIVE_GATEWAYS_KEY, 'gw2')).toBe(0);

    await b!.withdraw(); // a graceful stop leaves at once
    await a!.exchange(figures(2));
    expect(a!.combine(figures(2)).volunteersOnline).toBe(2);
  });
});

describe('two Tabgrid gateways on one Redis', () => {
  let g1: TestServer | null = null;
  let g2: TestServer | null = null;
  afterEach(async () => {
    await g1?.close();
    await g2?.close();
    g1 = g2 = null;
  });

  it("shows a volunteer connected to gateway 1 on gateway 2's live wall, and drops gateway 1 when it stops", async () => {
    g1 = await startTestServer({ redisUrl: redis.url });
    g2 = await startTestServer({ redisUrl: redis.url });
    const volunteer = new FakeVolunteer(g1.url, { id: 'fanout-volunteer' });
    cleanups.push(() => volunteer.close());
    await until(() => volunteer.hello, 5000, 'hello');
    const live = connect(g2.url, NAMESPACES.live, { protocolVersion: PROTOCOL_VERSION });
    const seen: number[] = [];
    live.on('live:stats', (s: LiveStats) => seen.push(s.volunteersOnline));
    await until(() => seen.includes(1), 10_000, 'gateway 1 volunteer on gateway 2');
    await g1.close();
    g1 = null;
    const before = seen.length;
    await until(() => seen.length > before && seen.at(-1) === 0, 10_000, 'gateway 1 to drop out');
  });
});
