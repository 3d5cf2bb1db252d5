/**
 * What only the Redis store has: several gateways on one stream. A dead gateway's entries move
 * to a live one (janitor), surplus cached tasks go back to the stream, a duplicate result from
 * redelivery is dropped (write-once), and a job that was stored survives `kill -9` of Redis.
 * Real redis-server processes; gateways are stores in this process with their own connections.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRedis } from '../src/redis/connection';
import {
  openRedisScheduling,
  REDIS_SCHEDULING_KEYS as K,
  type RedisSchedulingOptions,
} from '../src/store/redis';
import type { RedisSchedulingStore } from '../src/store/redis/redis-scheduling-store';
import { startRedis, type TestRedis } from './support/redis';
import { box, POLICY, tasks } from './contracts/scheduling-store';

const T0 = 1_700_000_000_000;
let server: TestRedis;
let db = 0;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
afterAll(async () => {
  await server?.stop();
});

/** One gateway; no background janitor unless asked (tests sweep when they mean to). */
async function gateway(url: string, options: Partial<RedisSchedulingOptions>) {
  const redis = connectRedis(url, 'gateways-test');
  redis.on('error', () => {}); // Redis is killed on purpose below; commands wait and retry
  const { store } = await openRedisScheduling(redis, POLICY, {
    blockMs: 100,
    janitorEveryMs: 3_600_000,
    ...options,
  });
  let closed = false;
  const close = async (crash: boolean) => {
    if (closed) return;
    closed = true;
    await store.close(crash);
    redis.disconnect();
  };
  cleanup.push(() => close(true));
  return { store, redis, close };
}

const pendingCount = async (redis: Redis) =>
  ((await redis.xpending(K.stream, K.group)) as [number, ...unknown[]])[0];

function completeAll(store: RedisSchedulingStore, volunteer: string, now: number): string[] {
  const done: string[] = [];
  for (
    let next = store.assignNext(volunteer, now, 1000);
    next;
    next = store.assignNext(volunteer, now, 1000)
  ) {
    store.complete(next.assignment.id, volunteer, box(0.5), 1, now);
    done.push(next.task.id);
  }
  return done;
}

describe('Redis scheduling across gateways', () => {
  it("janitor: a dead gateway's claimed and leased tasks move to a live one once its liveness expires", async () => {
    const url = `${server.url}/${++db}`;
    // A TTL long enough that gw-a surely still counts as alive at the first sweep, even on a loaded machine.
    const a = await gateway(url, { gatewayId: 'gw-a', livenessTtlMs: 3000 });
    const job = await a.store.createJob(tasks(3), T0);
    await a.store.settle();
    expect(a.store.queuedCount).toBe(3);
    const leased = a.store.assignNext('v1', T0, 1000)!;
    a.store.ack(leased.assignment.id, T0 + 1, 5000);
    await a.store.settle();
    await a.close(true); // kill -9: its liveness key stays until the TTL ends

    const b = await gateway(url, { gatewayId: 'gw-b', livenessTtlMs: 3000 });
    await b.store.settle();
    expect(b.store.queuedCount).toBe(0); // everything is pending on gw-a
    expect(await b.store.sweep()).toBe(0); // gw-a still counts as alive
    const died = Date.now();
    await vi.waitFor(async () => expect(await b.store.sweep()).toBe(3), { timeout: 15_000, interval: 100 });
    const movedAfterMs = Date.now() - died;
    expect(b.store.queuedCount).toBe(3);
    const consumers = (await b.redis.xinfo('CONSUMERS', K.stream, K.group)) as unknown[][];
    expect(consumers.map((c) => c[1])).toEqual(['gw-b']);

    expect(completeAll(b.store, 'v2', T0 + 10).sort()).toEqual(job.tasks.map((t) => t.id).sort());
    await b.store.settle();
    const view = await b.store.getJob(job.id);
    expect(view!.tasks.map((t) => t.status)).toEqual(['done', 'done', 'done']);
    expect(view!.tasks.find((t) => t.id === leased.task.id)!.attempts).toBe(2);
    expect(await pendingCount(b.redis)).toBe(0);
    console.log(`janitor moved a dead gateway's entries ${movedAfterMs} ms after it died (TTL 3000 ms)`);
  });

  it('surplus: tasks a gateway holds beyond its demand go back to the stream for others', async () => {
    const url = `${server.url}/${++db}`;
    let demandA = 4;
    let demandB = 0;
    const a = await gateway(url, { gatewayId: 'gw-a', demand: () => demandA, surplusEveryMs: 50 });
    const b = await gateway(url, { gatewayId: 'gw-b', demand: () => demandB });
    const job = await a.store.createJob(tasks(6), T0);
    await a.store.settle();
    await b.store.settle();
    expect([a.store.queuedCount, b.store.queuedCount]).toEqual([4, 0]);

    demandA = 1; // its volunteers left: three are surplus
    await vi.waitFor(() => expect(a.store.queuedCount).toBe(1), { timeout: 5000, interval: 50 });
    await a.store.settle();
    demandB = 10;
    await b.store.settle();
    expect(b.store.queuedCount).toBe(5);
    const ran = [...completeAll(a.store, 'va', T0), ...completeAll(b.store, 'vb', T0)];
    expect(ran.sort()).toEqual(job.tasks.map((t) => t.id).sort());
    await a.store.settle();
    await b.store.settle();
    expect(await pendingCount(a.redis)).toBe(0);
    expect(await a.redis.xlen(K.stream)).toBe(0);
  });

  it('write-once: the same task run on two gateways (redelivery) keeps the first stored result', async () => {
    const url = `${server.url}/${++db}`;
    const a = await gateway(url, { gatewayId: 'gw-a' });
    const b = await gateway(url, { gatewayId: 'gw-b', demand: () => 0, backstopIdleMs: 1 });
    const job = await a.store.createJob(tasks(1), T0);
    await a.store.settle();
    await new Promise((r) => setTimeout(r, 20));
    expect(await b.store.sweep()).toBe(1); // XAUTOCLAIM backstop: gw-b now holds it too
    const onA = a.store.assignNext('va', T0, 1000)!;
    const onB = b.store.assignNext('vb', T0, 1000)!;
    expect(onB.task.id).toBe(onA.task.id);
    a.store.complete(onA.assignment.id, 'va', box(0.9), 1, T0 + 1);
    await a.store.settle();
    b.store.complete(onB.assignment.id, 'vb', box(0.1), 1, T0 + 2);
    await b.store.settle();
    const view = await b.store.getJob(job.id);
    expect(view!.tasks[0]).toMatchObject({ status: 'done', detections: box(0.9) });
    expect(b.store.meter.duplicatesDropped).toBeGreaterThanOrEqual(1); // its result (and maybe its stale 'running')
    expect(await a.store.counts()).toMatchObject({ queued: 0, running: 0, done: 1 });
    expect(await pendingCount(a.redis)).toBe(0);
  });
});

describe('Redis scheduling when Redis itself dies', () => {
  let own: TestRedis;
  beforeAll(async () => {
    own = await startRedis();
  });
  afterAll(async () => {
    await own?.stop();
  });

  it("backtracking: a volunteer caught on gateway B loses the trusted results gateway A accepted, though A's memory says done", async () => {
    const url = `${server.url}/${++db}`;
    let demandA = 10;
    const a = await gateway(url, { gatewayId: 'gw-a', demand: () => demandA });
    const b = await gateway(url, { gatewayId: 'gw-b', demand: () => 0 });
    const job = await a.store.createJob(tasks(3), T0);
    await a.store.settle();
    const trusted = { verification: 'trusted', agreeing: 1 } as const;
    const lies = [a.store.assignNext('turncoat', T0, 1000)!, a.store.assignNext('turncoat', T0, 1000)!];
    for (const l of lies) a.store.complete(l.assignment.id, 'turncoat', box(0.1), 1, T0 + 1, trusted);
    const honest = a.store.assignNext('v2', T0, 1000)!;
    a.store.complete(honest.assignment.id, 'v2', box(0.9), 1, T0 + 1, trusted);
    await a.store.settle();
    expect((await a.store.getJob(job.id))!.status).toBe('done');
    // A lie in a job its owner has deleted since stays as it is: nothing to redo for nobody.
    const gone = await a.store.createJob(tasks(1), T0);
    await a.store.settle();
    const goneLie = a.store.assignNext('turncoat', T0, 1000)!;
    a.store.complete(goneLie.assignment.id, 'turncoat', box(0.1), 1, T0 + 1, trusted);
    await a.store.settle();
    await a.redis.hset(K.job(gone.id), 'deletedAt', T0 + 2);
    demandA = 0; // A claims nothing new for now (its reads under way end within their 100 ms block)
    await new Promise((r) => setTimeout(r, 300));

    // Gateway B catches the turncoat: it holds none of its results in memory.
    expect(b.store.publishedResultsOf('turncoat')).toEqual([]);
    const found = await b.store.reopenElsewhere('turncoat');
    // Every lie's credit goes; the deleted job's task is not run again.
    expect(found.revoked.sort()).toEqual([...lies, goneLie].map((l) => l.assignment.id).sort());
    expect(found.reopened.map((t) => t.status)).toEqual(['queued', 'queued']);
    expect((await a.store.getJob(gone.id))!.status).toBe('done');
    expect((await b.store.reopenElsewhere('turncoat')).revoked).toEqual([]); // once only

    // Gateway A still holds its done copies in memory; its view shows Redis' newer state…
    const seen = await a.store.getJob(job.id);
    const lieIds = new Set(lies.map((l) => l.task.id));
    expect(seen!.tasks.filter((t) => lieIds.has(t.id)).map((t) => [t.status, t.detections])).toEqual([
      ['queued', []],
      ['queued', []],
    ]);
    // …and it runs the reopened tasks when it claims them, not acking them as finished here.
    demandA = 10;
    await a.store.settle();
    expect(a.store.queuedCount).toBe(2);
    expect(a.store.assignNext('turncoat', T0 + 2, 1000)).toBeNull(); // excluded
    const redone = completeAll(a.store, 'v3', T0 + 3);
    expect(redone.sort()).toEqual([...lieIds].sort());
    await a.store.settle();
    const view = await a.store.getJob(job.id);
    expect(view!.tasks.map((t) => [t.status, t.detections[0]?.score])).toEqual(
      job.tasks.map((t) => ['done', t.id === honest.task.id ? 0.9 : 0.5]),
    );
    expect(await pendingCount(a.redis)).toBe(0);
  });

  it('a job that was stored, and results written after the restart, survive kill -9 of Redis', async () => {
    const a = await gateway(own.url, { gatewayId: 'gw-a' });
    const job = await a.store.createJob(tasks(4), T0); // resolved: on disk (appendfsync always)
    await a.store.settle();
    const first = a.store.assignNext('v1', T0, 1000)!;
    const second = a.store.assignNext('v2', T0, 1000)!;
    a.store.complete(first.assignment.id, 'v1', box(0.9), 1, T0 + 1);
    await a.store.settle();

    await own.kill9();
    // Written while Redis is down: kept in memory, retried until it is back.
    a.store.complete(second.assignment.id, 'v2', box(0.8), 1, T0 + 2);
    expect(a.store.backlog).toBeGreaterThan(0);
    await own.restart();
    await a.store.settle();

    const b = await gateway(own.url, { gatewayId: 'gw-b', demand: () => 0 });
    const view = await b.store.getJob(job.id);
    expect(view!.tasks.map((t) => t.status).sort()).toEqual(['done', 'done', 'queued', 'queued']);
    expect(view!.tasks.find((t) => t.id === second.task.id)!.detections).toEqual(box(0.8));
    expect(await pendingCount(b.redis)).toBe(2); // the two queued ones, still claimed by gw-a
  });

  it('a graceful close does not hang while Redis is down; what it could not hand back is still pending', async () => {
    const a = await gateway(own.url, { gatewayId: 'gw-c' });
    await a.store.createJob(tasks(2), T0);
    await a.store.settle();
    expect(a.store.queuedCount).toBe(2);
    await own.kill9();
    await a.close(false); // would wait forever on a dead Redis without its bound
    await own.restart();
    const b = await gateway(own.url, { gatewayId: 'gw-d', demand: () => 0 });
    const mine = (await b.redis.xpending(K.stream, K.group, '-', '+', 10, 'gw-c')) as unknown[];
    expect(mine).toHaveLength(2); // the janitor hands them over once gw-c's liveness expires
  });
});
