import {
  JobWatchSchema,
  LIVE_CLIENT_EVENTS,
  LiveAuthSchema,
  PROTOCOL_VERSION,
  fail,
  ok,
  type LiveClientToServer,
  type LiveServerToClient,
} from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Namespace } from 'socket.io';
import type { LiveStatsTracker } from '../live/live-stats';
import type { SchedulerEvents } from '../scheduling/scheduler';
import { liveResult, type SchedulerStore } from '../scheduling/store';
import type { AssignmentRecord, TaskRecord } from '../scheduling/types';
import { SocketGuard, describeIssues, handshakeError } from './guard';

export type LiveNamespace = Namespace<LiveClientToServer, LiveServerToClient>;

const RECENT_RESULTS = 24;
const JOB_UPDATE_COALESCE_MS = 50;

/**
 * `/live`: pushes every stored result, the network figures once a second, and
 * `job:update` to the watchers of a job. Nothing here is polled by clients.
 */
export class LiveHub implements SchedulerEvents {
  private readonly pendingJobs = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly nsp: LiveNamespace,
    private readonly store: SchedulerStore,
    private readonly stats: LiveStatsTracker,
    private readonly volunteersOnline: () => number,
    eventsPerSecond: number,
    log: FastifyBaseLogger,
    /** A volunteer's public display name (the id is never published, rule I7). */
    private readonly volunteerName: (volunteerId: string) => string = () => '',
  ) {
    nsp.use((socket, next) => {
      const auth = LiveAuthSchema.safeParse(socket.handshake.auth);
      if (!auth.success) return next(handshakeError('invalid_payload', describeIssues(auth.error)));
      if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
        return next(handshakeError('protocol_version', `server speaks protocol ${PROTOCOL_VERSION}`));
      }
      next();
    });
    nsp.on('connection', (socket) => {
      socket.emit('live:snapshot', {
        stats: this.currentStats(),
        recent: store.recentResults(RECENT_RESULTS, this.volunteerName),
      });
      const guard = new SocketGuard(socket, LIVE_CLIENT_EVENTS, eventsPerSecond, log);
      guard.on('job:watch', JobWatchSchema, ({ jobId }) => {
        const job = store.getJob(jobId);
        if (!job) return fail('not_found', `job ${jobId} does not exist`);
        void socket.join(`job:${jobId}`);
        return ok(job);
      });
      socket.on('job:unwatch', (payload: unknown) => {
        const parsed = JobWatchSchema.safeParse(payload);
        if (parsed.success) void socket.leave(`job:${parsed.data.jobId}`);
      });
    });
  }

  start(intervalMs = 1000): void {
    this.statsTimer = setInterval(() => this.nsp.emit('live:stats', this.currentStats()), intervalMs);
    this.statsTimer.unref();
  }

  stop(): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  currentStats() {
    return this.stats.snapshot(this.volunteersOnline(), this.store.counts());
  }

  resultStored(task: TaskRecord, assignment: AssignmentRecord): void {
    this.nsp.emit('live:result', liveResult(task, assignment, this.volunteerName(assignment.volunteerId)));
  }

  taskChanged(task: TaskRecord): void {
    this.pendingJobs.add(task.jobId);
    this.flushTimer ??= setTimeout(() => this.flushJobs(), JOB_UPDATE_COALESCE_MS);
  }

  private flushJobs(): void {
    this.flushTimer = null;
    for (const jobId of this.pendingJobs) {
      const room = `job:${jobId}`;
      if ((this.nsp.adapter.rooms.get(room)?.size ?? 0) === 0) continue;
      const job = this.store.getJob(jobId);
      if (job) this.nsp.to(room).emit('job:update', job);
    }
    this.pendingJobs.clear();
  }
}
