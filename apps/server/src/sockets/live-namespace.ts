import {
  JobWatchSchema,
  jobCounts,
  type JobChanges,
  type JobView,
  LIVE_CLIENT_EVENTS,
  LiveAuthSchema,
  PROTOCOL_VERSION,
  fail,
  ok,
  type LiveClientToServer,
  type LiveServerToClient,
  type VolunteerCounts,
} from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Namespace } from 'socket.io';
import type { ImageSigner } from '../access/image-signer';
import type { JobAccess, JobAccessRow, RecentVisible } from '../access/job-access';
import type { KeyStore } from '../access/key-store';
import type { SignInThrottle } from '../access/sign-in-throttle';
import { PerAddressCounter, clientAddress, type TrustProxy } from '../identity/network';
import { visibleResult } from '../access/live-visibility';
import { LOCAL_FANOUT, type Fanout } from '../fanout';
import { LRUCache } from 'lru-cache';
import { LiveHistory } from '../live/live-history';
import type { LiveStatsTracker } from '../live/live-stats';
import type { ErrorSink } from '../observability/error-sink';
import type { SchedulerEvents } from '../scheduling/scheduler';
import type { SchedulingStore } from '../store/scheduling-store';
import { liveResult } from '../store/views';
import type { AssignmentRecord, TaskCounts, TaskRecord } from '../store/records';
import { SocketGuard, describeIssues, handshakeError } from './guard';

export type LiveNamespace = Namespace<LiveClientToServer, LiveServerToClient>;

const RECENT_RESULTS = 24;
const JOB_UPDATE_COALESCE_MS = 50;
/** How long the figures wait for the store's task counts before the last ones read stand in. */
const COUNTS_WAIT_MS = 250;

/**
 * The least time (ms) between two reads of a job of `tasks` tasks for its watchers: 50 ms per 500
 * tasks, at most 2 s (PROTOCOL.md, `job:update`, L12). Each read is the whole job view (the one
 * the API answers); `job:changes` then sends only what changed, `job:update` the whole view.
 */
export function jobUpdateGapMs(tasks: number): number {
  return Math.min(2000, JOB_UPDATE_COALESCE_MS * Math.max(1, Math.ceil(tasks / 500)));
}

/** Watchers of whole views (`job:update`). */
export const wholeRoom = (jobId: string) => `job:${jobId}`;
/** Watchers of changes (`job:changes`, rule L12). */
export const changesRoom = (jobId: string) => `job:${jobId}:changes`;

/** The room of one requester's connections (dashboard and live pages signed in with its key). */
const ownerRoom = (name: string) => `owner:${name}`;

/** Access pieces the live namespace needs (see apps/server/src/access/). */
export interface LiveAccess {
  keys: KeyStore;
  jobs: JobAccess;
  signer: ImageSigner;
}

/** The front door of `/live` (rules L10, H4). */
export interface LiveDoor {
  /** Connections at once from one client address; the next handshake is refused. 0 = no limit. */
  maxPerAddress: number;
  /** Which peers' `X-Forwarded-For` is believed (rule I5). */
  trustProxy: TrustProxy;
  /** Invalid API keys per address (shared with the HTTP API). */
  throttle?: SignInThrottle;
}

/**
 * `/live`: pushes results, the network figures once a second, and `job:update`
 * to the watchers of a job. Nothing here is polled by clients. What each
 * connection sees (PROTOCOL.md rules L1-L6): everyone gets the figures and the
 * results of public jobs; a connection with an API key also gets its own jobs'
 * results and may watch its own jobs.
 */
export class LiveHub implements SchedulerEvents {
  /** `job:update` / `job:changes` to the watchers of changed jobs. */
  private readonly jobUpdates: JobUpdates;
  private statsTimer: NodeJS.Timeout | null = null;
  private lastCounts: TaskCounts = { queued: 0, running: 0, done: 0, failed: 0 };
  /** The charts' last 10 minutes, sent in `live:snapshot` (rule L7). */
  private readonly history = new LiveHistory();

  constructor(
    private readonly nsp: LiveNamespace,
    private readonly store: SchedulingStore,
    private readonly stats: LiveStatsTracker,
    /** Connected volunteers by state (rule L11). */
    private readonly volunteers: () => VolunteerCounts,
    private readonly access: LiveAccess,
    eventsPerSecond: number,
    log: FastifyBaseLogger,
    /** Where failures of the hub's timers and snapshots go (a database read can fail too). */
    private readonly errors?: ErrorSink,
    /** A volunteer's public display name (the id is never published, rule I7). */
    private readonly volunteerName: (volunteerId: string) => string = () => '',
    /** The top 10 by granted credits, by display name (rule L8); omitted without a ledger. */
    private readonly leaderboard?: () => { displayName: string; credits: number }[],
    /** Other gateways (ARCHITECTURE.md "Fan-out"): their viewers and their live figures. */
    private readonly fanout: Fanout = LOCAL_FANOUT,
    door: LiveDoor = { maxPerAddress: 0, trustProxy: () => false },
  ) {
    this.jobUpdates = new JobUpdates(
      nsp,
      fanout,
      (jobId) => store.getJob(jobId),
      (read, fn) => this.whenSettled('live.jobs', read, fn),
      (fn) => this.guard('live.jobs', fn),
    );
    const perAddress = new PerAddressCounter();
    nsp.use((socket, next) => {
      const auth = LiveAuthSchema.safeParse(socket.handshake.auth);
      if (!auth.success) return next(handshakeError('invalid_payload', describeIssues(auth.error)));
      if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
        return next(handshakeError('protocol_version', `server speaks protocol ${PROTOCOL_VERSION}`));
      }
      // Rule L10: live connections per client address, counted until the connection closes.
      const address = clientAddress(socket.request, door.trustProxy);
      if (door.maxPerAddress > 0 && perAddress.count(address) >= door.maxPerAddress) {
        return next(
          handshakeError(
            'rate_limited',
            `at most ${door.maxPerAddress} live connections may be open from one network address`,
          ),
        );
      }
      perAddress.add(address);
      let counted = true;
      const release = () => {
        if (counted) perAddress.remove(address);
        counted = false;
      };
      socket.conn.once('close', release);
      socket.data.releaseAddress = release;
      const refuse = (err: Error) => {
        release();
        next(err);
      };
      if (auth.data.apiKey === undefined) {
        socket.data.requester = null;
        return next();
      }
      const apiKey = auth.data.apiKey;
      const check = async () => {
        // While throttled (on any gateway, with Redis) no key is looked at.
        const wait = (await door.throttle?.retryAfter(address)) ?? 0;
        if (wait > 0) {
          return refuse(
            handshakeError('rate_limited', `too many invalid API keys from this address; retry in ${wait} s`),
          );
        }
        const requester = await access.keys.resolve(apiKey);
        if (requester === null) {
          await door.throttle?.failed(address);
          return refuse(handshakeError('unauthorized', 'this API key is not valid'));
        }
        socket.data.requester = requester.name;
        next();
      };
      check().catch((err: unknown) => {
        // e.g. the key store is unavailable: refuse clearly (clients retry), never hang.
        errors?.report('live.handshake', err);
        refuse(handshakeError('internal', 'the server could not check this key; try again'));
      });
    });
    nsp.on('connection', (socket) => {
      socket.once('disconnect', socket.data.releaseAddress as () => void);
      const requester = socket.data.requester as string | null;
      if (requester !== null) void socket.join(ownerRoom(requester));
      this.whenSettled(
        'live.snapshot',
        () => Promise.all([this.access.jobs.recentVisible(requester, RECENT_RESULTS), this.currentStats()]),
        ([visible, stats]) =>
          socket.emit('live:snapshot', {
            stats,
            recent: this.recentFor(requester, visible),
            history: this.history.snapshot(),
          }),
      );
      const guard = new SocketGuard<LiveClientToServer>(
        socket,
        LIVE_CLIENT_EVENTS,
        eventsPerSecond,
        log,
        errors,
      );
      guard.on('job:watch', JobWatchSchema, async ({ jobId, changes }) => {
        const job =
          requester !== null && (await access.jobs.owns(requester, jobId)) ? await store.getJob(jobId) : null;
        if (!job) return fail('not_found', `job ${jobId} does not exist`);
        // One shape per connection and job (rule L12): watching again may switch it.
        void socket.leave(changes ? wholeRoom(jobId) : changesRoom(jobId));
        void socket.join(changes ? changesRoom(jobId) : wholeRoom(jobId));
        return ok(job);
      });
      // Through the guard like every event (rate limit, schema, an answer to an ack).
      guard.on('job:unwatch', JobWatchSchema, ({ jobId }) => {
        void socket.leave(wholeRoom(jobId));
        void socket.leave(changesRoom(jobId));
        return ok({ jobId });
      });
    });
  }

  start(intervalMs = 1000): void {
    this.statsTimer = setInterval(
      () =>
        this.whenSettled(
          'live.stats',
          () => this.currentStats(),
          (stats) => {
            this.history.record(stats);
            // This gateway's viewers only: every gateway sends its own viewers the combined figures.
            this.nsp.local.emit('live:stats', stats);
          },
        ),
      intervalMs,
    );
    this.statsTimer.unref();
  }

  stop(): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.jobUpdates.stop();
  }

  /** Statistics now, with the store's task counts (see `taskCounts`). */
  async currentStats() {
    const counts = await this.taskCounts();
    const stats = this.fanout.combine(this.stats.snapshot(this.volunteers(), counts));
    return this.leaderboard ? { ...stats, leaderboard: this.leaderboard() } : stats;
  }

  /**
   * The store's task counts, as read now. A read that fails, or is slower than `COUNTS_WAIT_MS`
   * (a stalled Redis), does not hold the figures up: the last counts read stand in, and a late
   * read still updates them for the next call.
   */
  private taskCounts(): Promise<TaskCounts> {
    const read = this.store.counts().then(
      (counts) => (this.lastCounts = counts),
      (err: unknown) => {
        this.errors?.report('live.counts', err);
        return this.lastCounts;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<TaskCounts>((resolve) => {
      timer = setTimeout(() => resolve(this.lastCounts), COUNTS_WAIT_MS);
      timer.unref();
    });
    return Promise.race([read, late]).finally(() => clearTimeout(timer));
  }

  /** The newest results this viewer may see: public ones, plus its own (PROTOCOL.md rule L2). */
  private recentFor(requester: string | null, visible: RecentVisible[]) {
    return visible.flatMap(({ taskId, owner, result }) => {
      const found = result ?? this.localResult(taskId);
      if (!found) return [];
      const own = requester !== null && owner === requester;
      // No volunteer result published: the referee's own (PROTOCOL.md V8), named as `sendResult` does.
      const name = found.volunteerId ? this.volunteerName(found.volunteerId) : 'referee';
      const stored = liveResult(found.task, { inferenceMs: found.inferenceMs }, name);
      return [visibleResult(stored, own, this.access.signer)];
    });
  }

  /** A result from this process's store (SQLite: every task is here). */
  private localResult(taskId: string): RecentVisible['result'] | null {
    const task = this.store.getTask(taskId);
    if (!task) return null;
    const assignment = task.resultAssignmentId ? this.store.getAssignment(task.resultAssignmentId) : null;
    return {
      task,
      volunteerId: assignment?.volunteerId ?? null,
      inferenceMs: assignment?.inferenceMs ?? null,
    };
  }

  /**
   * To the owner's connections with ids; to everyone else only if the job is public, without.
   * With nobody to send it to (one process, no `/live` connection), nothing is read or signed: a
   * viewer who connects later reads the newest results from the store (`live:snapshot`).
   */
  resultStored(task: TaskRecord, assignment: AssignmentRecord | null): void {
    if (this.fanout.kind === 'local' && this.nsp.sockets.size === 0) return;
    this.whenSettled(
      'live.result',
      () => this.access.jobs.get(task.jobId),
      (job) => this.sendResult(task, assignment, job),
    );
  }

  private sendResult(task: TaskRecord, assignment: AssignmentRecord | null, job: JobAccessRow | null): void {
    if (!job || job.deletedAt !== null) return;
    const stored = liveResult(
      task,
      assignment,
      assignment ? this.volunteerName(assignment.volunteerId) : 'referee',
    );
    const { signer } = this.access;
    if (job.owner) this.nsp.to(ownerRoom(job.owner)).emit('live:result', visibleResult(stored, true, signer));
    if (!job.isPublic) return;
    const anyone = visibleResult(stored, false, signer);
    if (job.owner) this.nsp.except(ownerRoom(job.owner)).emit('live:result', anyone);
    else this.nsp.emit('live:result', anyone);
  }

  taskChanged(task: TaskRecord): void {
    this.jobUpdates.taskChanged(task);
  }

  /**
   * Runs `fn` once `read` has answered (a value or a promise: whichever backend runs, the same
   * way); failures of either go to the error sink.
   */
  private whenSettled<T>(where: string, read: () => Promise<T>, fn: (value: T) => void): void {
    new Promise<T>((resolve) => resolve(read())).then(
      (v) => this.guard(where, () => fn(v)),
      (err: unknown) =>
        this.guard(where, () => {
          throw err;
        }),
    );
  }

  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (this.errors) this.errors.report(where, err);
      else throw err;
    }
  }
}

/**
 * What a job's watchers get when its tasks change (PROTOCOL.md `job:update`, L12): changes are
 * coalesced per job, the job's view is read once per flush (paced by its size), and each room gets
 * its shape: the whole view, or only the tasks that changed with the job's counts. Nobody watching
 * on any gateway: no read.
 */
export class JobUpdates {
  /** Tasks changed since their job's last flush, by job. */
  private pending = new Map<string, Set<string>>();
  /** When each job's view was last read for its watchers, and its size (bounded: the least recent forgotten). */
  private readonly lastSent = new LRUCache<string, { at: number; tasks: number }>({ max: 10_000 });
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly nsp: LiveNamespace,
    private readonly fanout: Fanout,
    private readonly getJob: (jobId: string) => Promise<JobView | null>,
    /** Runs a read, then `fn` with its value; failures go to the hub's error sink. */
    private readonly whenSettled: <T>(read: () => Promise<T>, fn: (value: T) => void) => void,
    private readonly guard: (fn: () => void) => void,
  ) {}

  taskChanged(task: TaskRecord): void {
    let tasks = this.pending.get(task.jobId);
    if (!tasks) this.pending.set(task.jobId, (tasks = new Set()));
    tasks.add(task.id);
    this.flushTimer ??= setTimeout(() => this.guard(() => this.flush()), JOB_UPDATE_COALESCE_MS);
  }

  stop(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  private flush(): void {
    this.flushTimer = null;
    const now = performance.now();
    const later = new Map<string, Set<string>>();
    let wait = Infinity;
    for (const [jobId, changed] of this.pending) {
      const last = this.lastSent.get(jobId);
      const due = last ? last.at + jobUpdateGapMs(last.tasks) : now;
      if (due > now) {
        later.set(jobId, changed); // sent too recently for its size: once more when its gap is over
        wait = Math.min(wait, due - now);
        continue;
      }
      const rooms = [wholeRoom(jobId), changesRoom(jobId)];
      this.whenSettled(
        () =>
          Promise.all(
            rooms.map((room) => this.fanout.hasMembers(room, this.nsp.adapter.rooms.get(room)?.size ?? 0)),
          ),
        ([whole, changes]) => {
          if (!whole && !changes) return;
          this.whenSettled(
            () => this.getJob(jobId),
            (job) => {
              if (!job) return;
              const before = this.lastSent.get(jobId)?.tasks ?? job.tasks.length;
              this.lastSent.set(jobId, { at: performance.now(), tasks: job.tasks.length });
              if (whole) this.nsp.to(rooms[0]!).emit('job:update', job);
              if (changes) this.nsp.to(rooms[1]!).emit('job:changes', jobChanges(job, changed, before));
            },
          );
        },
      );
    }
    this.pending = later;
    if (later.size > 0) {
      this.flushTimer ??= setTimeout(() => this.guard(() => this.flush()), Math.ceil(wait));
    }
  }
}

/**
 * The changes of `job` for its watchers: the tasks in `changed`, and those added since it had
 * `before` tasks (photos appended to the job), in upload order, with the job's counts.
 */
export function jobChanges(job: JobView, changed: ReadonlySet<string>, before: number): JobChanges {
  return {
    id: job.id,
    status: job.status,
    counts: jobCounts(job.tasks),
    tasks: job.tasks.filter((t, i) => i >= before || changed.has(t.id)),
  };
}
