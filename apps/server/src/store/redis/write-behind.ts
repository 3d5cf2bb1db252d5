import { KEYS, RECENT_RESULTS_KEPT, TRUSTED_INDEX, trustedMember } from './keys';
import type { CacheSink, PutOptions } from './cache-sink';
import type { ScriptedRedis } from './scripts';
import { encodeTask, type StoredTask } from './stored-task';
import type { RedisMeter } from './meter';

interface PendingPut {
  jobId: string;
  taskId: string;
  status: string;
  json: string;
  options: PutOptions;
}

/** A pipeline with the scheduling scripts (ioredis adds defined commands to pipelines too). */
interface ScriptedPipeline {
  tgPutTask(...args: (string | number)[]): unknown;
  tgIndexTrusted(...args: (string | number)[]): unknown;
  xadd(...args: string[]): unknown;
  xack(...args: string[]): unknown;
  xdel(...args: string[]): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

const MAX_BACKOFF_MS = 2000;

const isFinal = (status: string) => status === 'done' || status === 'failed';

/**
 * Writes the local cache's changes to Redis behind the hot path: every change made in one tick
 * (and all made while a write is in flight) goes out as one pipeline — one round trip for many
 * tasks. A task's later change replaces its earlier one not yet written (options merged).
 * Nothing is dropped on failure: the batch is merged back under newer changes and retried with
 * backoff (every write is idempotent). A final state's stream entry is acknowledged only in the
 * pipeline after the one that stored it, so a crash in between means redelivery, never loss.
 */
export class WriteBehind implements CacheSink {
  private pending = new Map<string, PendingPut>();
  private acks = new Set<string>();
  private flushing = false;
  private scheduled = false;
  private backoffMs = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly meter: RedisMeter,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Changes not yet stored in Redis. */
  get backlog(): number {
    return this.pending.size + this.acks.size;
  }

  put(task: StoredTask, options: PutOptions = {}): void {
    const earlier = this.pending.get(task.id);
    // Write-once here too: an unwritten final state is never replaced by a non-final one.
    if (earlier && isFinal(earlier.status) && !isFinal(task.status) && !options.force) return;
    const before = earlier?.options ?? {};
    this.pending.set(task.id, {
      jobId: task.jobId,
      taskId: task.id,
      status: task.status,
      json: encodeTask(task),
      options: {
        ackEntry: options.ackEntry ?? before.ackEntry,
        force: options.force || before.force,
        enqueue: options.enqueue || before.enqueue,
        trusted: options.trusted ?? before.trusted,
      },
    });
    this.schedule();
  }

  /** Acknowledges (and deletes) stream entries whose task needs nothing more. */
  ack(entryIds: readonly string[]): void {
    for (const id of entryIds) this.acks.add(id);
    if (entryIds.length > 0) this.schedule();
  }

  /** Resolves once everything put so far is stored. */
  settle(): Promise<void> {
    if (this.backlog === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops retrying (what is still pending stays unwritten: redelivery covers it). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
  }

  private schedule(): void {
    if (this.scheduled || this.flushing || this.closed) return;
    this.scheduled = true;
    const delay = this.backoffMs;
    const run = () => void this.flush();
    if (delay > 0) setTimeout(run, delay).unref();
    else setImmediate(run);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.closed) return;
    const batch = this.pending;
    const acks = [...this.acks];
    this.pending = new Map();
    this.acks = new Set();
    this.flushing = true;
    const pipe = this.redis.pipeline() as unknown as ScriptedPipeline;
    const puts = [...batch.values()];
    for (const p of puts) {
      pipe.tgPutTask(
        KEYS.tasks(p.jobId),
        KEYS.status(p.jobId),
        KEYS.jobCounts(p.jobId),
        KEYS.counts,
        KEYS.recentResults,
        p.taskId,
        p.json,
        p.status,
        p.options.force ? '1' : '0',
        p.jobId,
        RECENT_RESULTS_KEPT,
      );
      if (p.options.enqueue) pipe.xadd(KEYS.stream, '*', 'j', p.jobId, 't', p.taskId);
      for (const trusted of p.options.trusted ?? []) {
        pipe.tgIndexTrusted(
          KEYS.trusted(trusted.volunteerId),
          Date.now(),
          trustedMember(trusted),
          TRUSTED_INDEX.keep,
          TRUSTED_INDEX.ttlMs,
        );
      }
    }
    if (acks.length > 0) {
      pipe.xack(KEYS.stream, KEYS.group, ...acks);
      pipe.xdel(KEYS.stream, ...acks);
    }
    const failed: PendingPut[] = [];
    let ackFailed = false;
    try {
      const replies = (await pipe.exec()) ?? [];
      this.meter.roundTrip(replies.length);
      let i = 0;
      for (const p of puts) {
        // One reply per command this put queued: the write, then its stream entry and its index.
        const [err, stored] = replies[i++] ?? [new Error('no reply')];
        const enqueueErr = p.options.enqueue ? (replies[i++]?.[0] ?? null) : null;
        let indexErr: Error | null = null;
        for (let n = p.options.trusted?.length ?? 0; n > 0; n--) {
          const e = replies[i++]?.[0] ?? null; // every index reply consumed, even after an error
          indexErr ??= e;
        }
        if (err || enqueueErr || indexErr) failed.push(p);
        else {
          if (p.options.ackEntry) this.acks.add(p.options.ackEntry);
          if (stored === 0) this.meter.duplicatesDropped++;
        }
      }
      if (acks.length > 0 && (replies[i]?.[0] || replies[i + 1]?.[0])) ackFailed = true;
      if (failed.length > 0 || ackFailed) {
        this.onError(replies.find(([e]) => e)?.[0] ?? new Error('redis write failed'));
      }
    } catch (err) {
      failed.push(...puts);
      ackFailed = acks.length > 0;
      this.onError(err);
    }
    for (const p of failed) {
      const newer = this.pending.get(p.taskId);
      if (!newer) this.pending.set(p.taskId, p);
      else
        newer.options = {
          ackEntry: newer.options.ackEntry ?? p.options.ackEntry,
          force: newer.options.force || p.options.force,
          enqueue: newer.options.enqueue || p.options.enqueue,
          trusted: newer.options.trusted ?? p.options.trusted,
        };
    }
    if (ackFailed) for (const id of acks) this.acks.add(id);
    this.backoffMs = failed.length > 0 || ackFailed ? Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 || 50) : 0;
    this.flushing = false;
    if (this.backlog > 0) this.schedule();
    else for (const w of this.waiters.splice(0)) w();
  }
}
