/**
 * Honest clocks (issue 18): a task's `timings.assignedAt` is when its offer left the server, not
 * when the offer was recorded. A store wrapper stalls the event loop right after each offer is
 * recorded (as a burst of offers does under load); the API must not count that stall as the
 * volunteer's. Both backends, real server, real Socket.IO.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SchedulingStore } from '../src/store/scheduling-store';
import { FakeVolunteer } from './support/fake-volunteer';
import { startTestServer, type TestServer } from './support/harness';
import { startRedis, type TestRedis } from './support/redis';
import { sampleImages } from '../../../scripts/assets';

const STALL_MS = 400;

/** Records when each offer was recorded, then blocks the loop for STALL_MS. */
function stallAfterOffers(recorded: number[]) {
  return (store: SchedulingStore): SchedulingStore =>
    new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (prop !== 'assignNext') return value.bind(target);
        return (...args: Parameters<SchedulingStore['assignNext']>) => {
          const next = target.assignNext(...args);
          if (next) {
            recorded.push(next.assignment.assignedAt);
            const until = Date.now() + STALL_MS;
            while (Date.now() < until); // a stalled event loop
          }
          return next;
        };
      },
    });
}

let redis: TestRedis | undefined;
let server: TestServer | undefined;
let volunteer: FakeVolunteer | undefined;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  volunteer?.close();
  await server?.close();
  server = undefined;
});

describe.each(['sqlite', 'redis'] as const)('timings on %s', (backend) => {
  it('assignedAt is when the offer left the server, after a stall that followed its recording', async () => {
    const recorded: number[] = [];
    server = await startTestServer(backend === 'redis' ? { redisUrl: redis!.url } : {}, {
      wrapStore: stallAfterOffers(recorded),
    });
    const received: number[] = [];
    volunteer = await FakeVolunteer.connect(server.url, { id: `clocks-${backend}` });
    volunteer.socket.on('task:assign', () => received.push(Date.now()));
    const job = await server.createJob([sampleImages()[0]!.name]);
    const done = await server.waitForJob(job.id);
    const t = done.tasks[0]!;
    expect(t.status).toBe('done');
    expect(recorded).toHaveLength(1);
    expect(received).toHaveLength(1);
    const { assignedAt, ackedAt } = t.timings;
    // Sent after the stall, received after it was sent; the ack came after both.
    expect(assignedAt).toBeGreaterThanOrEqual(recorded[0]! + STALL_MS);
    expect(assignedAt).toBeLessThanOrEqual(received[0]!);
    expect(ackedAt).toBeGreaterThanOrEqual(assignedAt!);
  }, 30_000);
});
