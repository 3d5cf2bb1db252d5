import { describe, expect, it } from 'vitest';
import {
  HeartbeatSchema,
  JobWatchSchema,
  TaskResultSchema,
  ok,
  type LiveClientToServer,
  type VolunteerClientToServer,
} from '@tabgrid/protocol';
import type { SocketGuard } from './guard';

/**
 * Type-level checks (run by `npm run typecheck`): the guard is typed against the protocol's event
 * maps, so a handler for an event gets that event's payload and must answer its ack's type.
 */
function typed(volunteer: SocketGuard<VolunteerClientToServer>, live: SocketGuard<LiveClientToServer>): void {
  volunteer.on('task:heartbeat', HeartbeatSchema, (p) => ok({ renewed: p.assignmentIds, lost: [] }));
  // @ts-expect-error the schema must be the event's (a result schema for a heartbeat)
  volunteer.on('task:heartbeat', TaskResultSchema, () => ok({ renewed: [], lost: [] }));
  // @ts-expect-error the answer must be the event's ack
  volunteer.on('task:result', TaskResultSchema, () => ok({ requeued: true }));
  // @ts-expect-error events outside the map are refused
  volunteer.on('task:unknown', HeartbeatSchema, () => ok({}));
  live.on('job:unwatch', JobWatchSchema, (p) => ok({ jobId: p.jobId }));
  // @ts-expect-error job:unwatch answers its job id (P3: every event with an ack is answered)
  live.on('job:unwatch', JobWatchSchema, () => ok({}));
  // @ts-expect-error an event whose ack the protocol declares must answer it
  live.on('job:unwatch', JobWatchSchema, () => undefined);
}

describe('SocketGuard types', () => {
  it('are checked by the typecheck (this file compiles only if the guard follows the event maps)', () => {
    expect(typeof typed).toBe('function');
  });
});
