import type { FastifyBaseLogger } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageSigner } from '../access/image-signer';
import type { JobAccessRow } from '../access/job-access';
import { LiveStatsTracker } from '../live/live-stats';
import type { TaskRecord } from '../store/records';
import type { SchedulingStore } from '../store/scheduling-store';
import { LiveHub, type LiveAccess, type LiveNamespace } from './live-namespace';

const silent = { warn: () => undefined, error: () => undefined } as unknown as FastifyBaseLogger;

const task: TaskRecord = {
  id: 'task-1',
  jobId: 'job-1',
  idx: 0,
  name: 'bus.jpg',
  imageSha256: 'a'.repeat(64),
  mime: 'image/jpeg',
  width: 810,
  height: 1080,
  status: 'done',
  submittedAt: 1,
  completedAt: 2,
  attempts: 1,
  failureReports: 0,
  detections: [],
  resultAssignmentId: 'asg-1',
  errorCode: null,
  errorMessage: null,
  verification: null,
  agreeing: 0,
};

/** A `/live` namespace with `sockets` connected, recording what is broadcast. */
function fakeNamespace(sockets: Map<string, unknown>, sent: string[]) {
  const broadcast = { emit: (event: string) => sent.push(event) };
  return {
    sockets,
    use: () => undefined,
    on: () => undefined,
    to: () => broadcast,
    except: () => broadcast,
    emit: (event: string) => sent.push(event),
    adapter: { rooms: new Map() },
  } as unknown as LiveNamespace;
}

let stats: LiveStatsTracker | null = null;
afterEach(() => stats?.stop());

describe('live:result fan-out (issue 18: no per-result work without a receiver)', () => {
  it('reads and signs nothing while no /live connection is open, and sends once one is', async () => {
    const reads: string[] = [];
    const sent: string[] = [];
    const sockets = new Map<string, unknown>();
    const row: JobAccessRow = {
      id: task.jobId,
      owner: 'owner',
      isPublic: true,
      deletedAt: null,
      cancelledAt: null,
      expected: null,
    };
    const access = {
      keys: {},
      jobs: {
        get: (jobId: string) => {
          reads.push(jobId);
          return Promise.resolve(row);
        },
      },
      signer: new ImageSigner(Buffer.alloc(32, 7)),
    } as unknown as LiveAccess;
    stats = new LiveStatsTracker();
    const hub = new LiveHub(
      fakeNamespace(sockets, sent),
      {} as SchedulingStore,
      stats,
      () => ({ online: 0, ready: 0, working: 0, paused: 0, quarantined: 0 }),
      access,
      10,
      silent,
    );
    const settled = () => new Promise((resolve) => setImmediate(resolve));

    hub.resultStored(task, null);
    await settled();
    expect(reads).toEqual([]);
    expect(sent).toEqual([]);

    sockets.set('viewer', {});
    hub.resultStored(task, null);
    await settled();
    expect(reads).toEqual([task.jobId]);
    // The owner's room with ids, everyone else (a public job) without.
    expect(sent).toEqual(['live:result', 'live:result']);
  });
});
