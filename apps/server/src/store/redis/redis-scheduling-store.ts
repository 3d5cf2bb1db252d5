import { setTimeout as delay } from 'node:timers/promises';
import type { JobView } from '@tabgrid/protocol';
import type { Redis } from 'ioredis';
import type { DeletedJob, SchedulingStore } from '../scheduling-store';
import { deleteJob, freed } from '../../storage/redis-image-refs';
import type { JobAccessFields } from '../scheduling-store';
import type { AssignmentRecord, NewTask, RetryPolicy, TaskCounts, TaskRecord } from '../records';
import { Janitor } from './janitor';
import { JobCancels } from './job-cancels';
import * as jobs from './job-records';
import { KEYS, parseTrustedMember, type TrustedRef } from './keys';
import { Liveness } from './liveness';
import { LocalCache } from './local-cache';
import { RedisMeter } from './meter';
import type { ScriptedRedis } from './scripts';
import { decodeTask, recordOf } from './stored-task';
import { loadTasks, readEntries, type Entry } from './stream-claims';
import { WriteBehind } from './write-behind';
import { resolveOptions, type RedisSchedulingOptions, type ResolvedOptions } from './options';

export type { RedisSchedulingOptions } from './options';

/** What a cancel announced by another gateway ended here. */
export interface CancelledHere {
  jobId: string;
  tasks: TaskRecord[];
  leases: AssignmentRecord[];
}

/** Waits `ms` without keeping the process alive. */
const sleep = (ms: number) => delay(ms, undefined, { ref: false });

/** Tries of a backtracking search in Redis before it is given up (~16 s of backoff). */
const REOPEN_TRIES = 7;

/** How long a graceful close waits for Redis before giving up (a dead Redis must not hang it). */
const CLOSE_WAIT_MS = 3000;

/** Resolves when `p` settles or after `ms`, whichever is first; never rejects. */
const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    sleep(ms),
  ]);

/**
 * The scheduling store on Redis, for many gateways (ARCHITECTURE.md, "Redis scheduling"). The
 * synchronous hot path is the `LocalCache` it extends (leases and claimed tasks in memory); this
 * class adds the Redis side: claiming stream entries in batches sized to local demand, the
 * write-behind of every change, liveness, the janitor, surplus hand-back, and the asynchronous
 * job records (create, append, views, counts) the HTTP routes await.
 */
export class RedisSchedulingStore extends LocalCache implements SchedulingStore {
  readonly meter: RedisMeter;
  private readonly writer: WriteBehind;
  private readonly liveness: Liveness;
  private readonly janitor: Janitor;
  private readonly cancels: JobCancels;
  private readonly cancelListeners: ((ended: CancelledHere) => void)[] = [];
  private readonly options: ResolvedOptions;
  private readonly listeners: (() => void)[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closing = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private surplusSeen = false;
  /** Entries asked for by reads under way. */
  private reserved = 0;
  /** The read loop's current read. */
  private claiming: Promise<number> | null = null;

  constructor(
    private readonly redis: ScriptedRedis,
    /** A dedicated connection for blocking reads (closed by `close()`). */
    private readonly reader: Redis,
    policy: RetryPolicy,
    options: RedisSchedulingOptions,
  ) {
    const meter = new RedisMeter();
    const onError = options.onError ?? (() => {});
    const writer = new WriteBehind(redis, meter, (err) => onError('redis.write', err));
    super(policy, writer);
    this.meter = meter;
    this.writer = writer;
    this.options = resolveOptions(options);
    const ttl = this.options.livenessTtlMs;
    reader.on('error', (err: unknown) => onError('redis.reader', err));
    this.liveness = new Liveness(redis, options.gatewayId, ttl, meter, (err) =>
      onError('redis.liveness', err),
    );
    this.janitor = new Janitor(
      redis,
      options.gatewayId,
      { lockMs: this.options.janitorEveryMs, backstopIdleMs: this.options.backstopIdleMs, batch: 500 },
      meter,
    );
    this.cancels = new JobCancels(redis, meter, {
      onCancelled: (jobId) => this.cancelledElsewhere(jobId),
      heldJobs: () => this.heldJobs(),
      checkEveryMs: this.options.cancelCheckEveryMs,
      onError,
    });
  }

  get gatewayId(): string {
    return this.options.gatewayId;
  }

  /** Changes not yet stored in Redis (a gauge). */
  get backlog(): number {
    return this.writer.backlog;
  }

  /**
   * Called when a job cancelled on another gateway (or whose cancel message was missed) had
   * tasks cached here: they are failed here, and `ended.leases` must be taken back from their
   * volunteers (wire it to the scheduler, which tells them `task:cancel`).
   */
  onJobCancelled(listener: (ended: CancelledHere) => void): void {
    this.cancelListeners.push(listener);
  }

  /** Called when claimed tasks arrive (wire it to the scheduler's dispatch). */
  onTasksAvailable(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Starts the gateway: liveness first (so no janitor takes what it is recovering), then this
   * gateway's own pending entries are read back (a restart under the same id), then claiming,
   * janitor and surplus run in the background.
   */
  async start(now: number): Promise<{ lapsed: number; queued: number }> {
    await this.liveness.start();
    await this.cancels.start();
    const recovered = await this.recover(now);
    this.loop = this.readLoop();
    this.every(this.options.janitorEveryMs, () => this.sweep());
    this.every(this.options.surplusEveryMs, async () => this.checkSurplus());
    return recovered;
  }

  /** Reads back this gateway's own pending entries; those that were running are queued again. */
  async recover(_now: number): Promise<{ lapsed: number; queued: number }> {
    let lapsed = 0;
    let from = '0';
    for (;;) {
      const entries = await readEntries(this.redis, this.meter, this.gatewayId, 500, from, 0);
      if (entries.length === 0) break;
      lapsed += (await this.admitEntries(entries)).lapsed;
      from = entries[entries.length - 1]!.entryId;
    }
    return { lapsed, queued: this.queuedCount };
  }

  // ------------------------------------------------------------------ jobs (async)

  createJob(tasks: NewTask[], now: number, access: JobAccessFields = { owner: '', isPublic: false }) {
    return this.track(jobs.createJob(this.redis, this.meter, tasks, now, access));
  }

  appendTasks(jobId: string, tasks: NewTask[], now: number) {
    return this.track(jobs.appendTasks(this.redis, this.meter, jobId, tasks, now));
  }

  getJob(jobId: string): Promise<JobView | null> {
    return jobs.getJob(this.redis, this.meter, jobId, (id) => this.peek(id));
  }

  counts(): Promise<TaskCounts> {
    return jobs.counts(this.redis, this.meter);
  }

  queueDepth(): Promise<number> {
    return jobs.queueDepth(this.redis, this.meter);
  }

  async findTask(taskId: string): Promise<TaskRecord | null> {
    const local = this.peek(taskId);
    if (local && local.status !== 'done' && local.status !== 'failed') return recordOf(local);
    const stored = await jobs.findTask(this.redis, this.meter, taskId);
    return stored ? recordOf(stored) : local ? recordOf(local) : null;
  }

  isImageReferenced(sha256: string): Promise<boolean> {
    return jobs.isImageReferenced(this.redis, this.meter, sha256);
  }

  /**
   * Adds `deletedAt` to the job's hash once (`HSETNX`) and, that first time, frees the images
   * no live job uses by reference counts (`storage/redis-image-refs.ts`).
   */
  async markDeleted(jobId: string, now: number): Promise<DeletedJob> {
    const { deletedAt, freeable } = await deleteJob(this.redis, jobId, now);
    return { deletedAt, freeable, freed: (shas) => freed(this.redis, shas) };
  }

  /** Jobs on Redis always have an owner (keys existed before Redis mode could run). */
  adoptOrphans(_owner: string): Promise<number> {
    return Promise.resolve(0);
  }

  markCancelled(jobId: string, now: number): Promise<number> {
    return jobs.markCancelled(this.redis, this.meter, jobId, now);
  }

  setExpected(jobId: string, expected: number): Promise<void> {
    return jobs.setExpected(this.redis, this.meter, jobId, expected);
  }

  /**
   * Backtracking beyond this gateway's memory (rule V7): the volunteer's published results (any
   * verification) that another gateway accepted, or that this one no longer holds, found through their
   * index (`KEYS.trusted`) and reopened by one script each, all in one pipeline. Those this gateway
   * holds are left to `reopen` (its copy may be newer than Redis). Retried with backoff while
   * Redis is away (a lie left final is worse than a late revision).
   */
  override async reopenElsewhere(
    volunteerId: string,
  ): Promise<{ revoked: string[]; reopened: TaskRecord[] }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.reopenIndexed(volunteerId);
      } catch (err) {
        if (this.closing || attempt >= REOPEN_TRIES - 1) throw err;
        this.options.onError?.('redis.backtrack', err);
        await sleep(250 * 2 ** attempt);
      }
    }
  }

  private async reopenIndexed(volunteerId: string): Promise<{ revoked: string[]; reopened: TaskRecord[] }> {
    const key = KEYS.trusted(volunteerId);
    const members = await this.redis.zrange(key, 0, -1);
    this.meter.roundTrip();
    const refs = members
      .map((m) => ({ member: m, ref: parseTrustedMember(m) }))
      .filter((x): x is { member: string; ref: TrustedRef } => !!x.ref && !this.holds(x.ref.assignmentId));
    if (refs.length === 0) return { revoked: [], reopened: [] };
    const pipe = this.redis.pipeline() as unknown as {
      tgReopenTrusted(...args: string[]): unknown;
      zrem(key: string, ...members: string[]): unknown;
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const { ref } of refs) {
      pipe.tgReopenTrusted(
        KEYS.tasks(ref.jobId),
        KEYS.status(ref.jobId),
        KEYS.jobCounts(ref.jobId),
        KEYS.counts,
        KEYS.stream,
        KEYS.job(ref.jobId),
        ref.taskId,
        ref.assignmentId,
        volunteerId,
        ref.jobId,
      );
    }
    const replies = (await pipe.exec()) ?? [];
    this.meter.roundTrip(replies.length);
    const revoked: string[] = [];
    const reopened: TaskRecord[] = [];
    const settled: string[] = [];
    refs.forEach(({ member, ref }, i) => {
      const [err, json] = replies[i] ?? [new Error('no reply')];
      if (err) throw err;
      settled.push(member);
      if (typeof json !== 'string') return;
      revoked.push(ref.assignmentId); // its credit goes, whether or not the task runs again
      if (json !== 'deleted') reopened.push(recordOf(decodeTask(json)));
    });
    // Done with: reopened, or not this volunteer's result any more.
    await this.redis.zrem(key, ...settled);
    this.meter.roundTrip();
    if (reopened.length > 0) for (const l of this.listeners) l();
    return { revoked, reopened };
  }

  /**
   * Ends the job's cached tasks here at once, and every other unfinished one in Redis; then tells
   * the other gateways (`JobCancels`), which drop the tasks they cached. `elsewhere` resolves to
   * how many tasks were cancelled in Redis beyond those cached here.
   */
  override cancelJob(
    jobId: string,
    now: number,
  ): { tasks: TaskRecord[]; leases: AssignmentRecord[]; elsewhere: Promise<number> } {
    const local = super.cancelJob(jobId, now);
    // After the pending writes: a result accepted here before the cancel stays.
    const remote = this.writer.settle().then(async () => {
      const failed = await this.redis.tgCancelJob(
        KEYS.tasks(jobId),
        KEYS.status(jobId),
        KEYS.jobCounts(jobId),
        KEYS.counts,
        now,
      );
      this.meter.roundTrip();
      await this.cancels.publish(jobId);
      return failed.length;
    });
    void this.track(remote).catch((err: unknown) => this.options.onError?.('redis.cancel', err));
    return { ...local, elsewhere: remote };
  }

  /**
   * Resolves once every change so far is stored in Redis and the cache holds what it can claim
   * (tests, shutdown).
   */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    await this.writer.settle();
    for (;;) {
      await this.claiming?.catch(() => {});
      const want = this.want();
      if (want <= 0 || (await this.claim(this.redis, want, 0)) === 0) break;
    }
    await this.writer.settle();
  }

  /** Gives back `n` queued tasks (default: all) to the stream for other gateways. */
  async giveBackSurplus(n = this.queuedCount): Promise<number> {
    const given = this.giveBack(n);
    await this.writer.settle();
    return given;
  }

  /** One janitor sweep now (tests; it also runs on a timer). Returns the entries it moved here. */
  async sweep(): Promise<number> {
    const entries = await this.janitor.sweep();
    await this.admitEntries(entries);
    return entries.length;
  }

  /**
   * Graceful stop: queued tasks go back to the stream, pending writes are flushed, the liveness
   * key is deleted (the janitor moves any entry still pending at once); each waits at most 3 s for
   * Redis. `crash` stops without any of that, as `kill -9` would (tests).
   */
  async close(crash = false): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.wake?.();
    if (!crash) {
      this.giveBack(this.queuedCount);
      // Bounded: with Redis away, what is not written is redelivered to another gateway.
      await within(this.writer.settle(), CLOSE_WAIT_MS);
    }
    this.writer.close();
    await within(this.cancels.close(), CLOSE_WAIT_MS);
    await within(this.liveness.stop(!crash), CLOSE_WAIT_MS);
    this.reader.disconnect();
    if (this.loop) await within(this.loop, CLOSE_WAIT_MS);
  }

  // ------------------------------------------------------------------ internals

  private target(): number {
    return this.options.demand ? this.options.demand() : this.options.maxBatch;
  }

  /** Entries to ask for now: demand less what is held and what reads under way may bring. */
  private want(): number {
    return Math.min(this.options.maxBatch, this.target() - this.unfinishedCount - this.reserved);
  }

  /** One read of up to `count` new entries, reserved while it runs (reads never over-claim). */
  private async claim(conn: Redis, count: number, blockMs: number): Promise<number> {
    this.reserved += count;
    try {
      const entries = await readEntries(conn, this.meter, this.gatewayId, count, '>', blockMs);
      return (await this.admitEntries(entries)).cached;
    } finally {
      this.reserved -= count;
    }
  }

  protected override released(): void {
    this.wake?.();
  }

  private async readLoop(): Promise<void> {
    while (!this.closing) {
      const want = this.want();
      // Batches: wait until a quarter of the target is free, unless nothing is left to offer.
      if (want <= 0 || (want < this.target() / 4 && this.queuedCount > 0)) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 250).unref();
        });
        this.wake = null;
        continue;
      }
      try {
        this.claiming = this.claim(this.reader, want, this.options.blockMs);
        await this.claiming;
      } catch (err) {
        if (this.closing) break;
        this.options.onError?.('redis.claim', err);
        await sleep(200);
      }
    }
  }

  /** Caches claimed entries; acknowledges those with nothing to run. */
  private async admitEntries(entries: Entry[]): Promise<{ cached: number; lapsed: number }> {
    if (entries.length === 0) return { cached: 0, lapsed: 0 };
    const claimed = await loadTasks(this.redis, this.meter, entries);
    const done: string[] = [];
    let cached = 0;
    let lapsed = 0;
    for (const c of claimed) {
      const kind = c.task ? this.admit(c.task, c.entryId, c.owner) : 'final';
      if (kind === 'final' || kind === 'duplicate') done.push(c.entryId);
      else cached++;
      if (kind === 'lapsed') lapsed++;
    }
    this.writer.ack(done);
    // A claim read before a cancel that was announced while it ran: drop those tasks at once.
    for (const jobId of new Set(claimed.map((c) => c.task?.jobId ?? ''))) {
      if (this.cancels.has(jobId)) cached = Math.max(0, cached - this.cancelledElsewhere(jobId));
    }
    if (cached > 0) for (const l of this.listeners) l();
    return { cached, lapsed };
  }

  /**
   * A job was cancelled (on any gateway): its tasks cached here fail at once (their final state
   * is already in Redis, so the write-once script drops these writes and the entries are acked)
   * and listeners take back the leases. Returns how many tasks were dropped.
   */
  private cancelledElsewhere(jobId: string): number {
    const ended = super.cancelJob(jobId, Date.now());
    // Always told: this gateway may hold canaries made from the job's images (rule V12).
    for (const l of this.cancelListeners) l({ jobId, tasks: ended.tasks, leases: ended.leases });
    return ended.tasks.length;
  }

  /** Gives back what exceeds demand once it has done so for two checks in a row. */
  private checkSurplus(): void {
    const excess = Math.min(this.queuedCount, -this.want());
    if (excess > 0 && this.surplusSeen) this.giveBack(excess);
    this.surplusSeen = excess > 0;
  }

  private every(ms: number, fn: () => Promise<unknown> | void): void {
    const timer = setInterval(() => {
      if (this.closing) return;
      void Promise.resolve()
        .then(fn)
        .catch((err: unknown) => {
          if (!this.closing) this.options.onError?.('redis.background', err);
        });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const drop = () => this.inflight.delete(p);
    p.then(drop, drop);
    return p;
  }
}
