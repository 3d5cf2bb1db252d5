import type { Redis } from 'ioredis';
import { KEYS } from './keys';
import type { RedisMeter } from './meter';

/** How many cancelled job ids a gateway remembers (claims of their tasks are dropped). */
const REMEMBERED = 10_000;

export interface JobCancelsOptions {
  /** Called with a cancelled job's id (from any gateway, this one included); idempotent. */
  onCancelled: (jobId: string) => void;
  /** The jobs whose unfinished tasks this gateway holds now (checked periodically). */
  heldJobs: () => Iterable<string>;
  /** How often held jobs are checked for a deletion this gateway missed. @defaultValue 5000 */
  checkEveryMs?: number;
  onError?: (where: string, err: unknown) => void;
}

/**
 * Tells every gateway that a job was cancelled, so each drops the job's tasks it has cached and
 * ends the volunteer leases on them at once (ARCHITECTURE.md, "Redis scheduling"):
 *
 * - the cancelling gateway `PUBLISH`es the job id on `tg:cancels` once `tgCancelJob` has failed
 *   the job's unfinished tasks in Redis; every gateway (itself too) `SUBSCRIBE`s on a dedicated
 *   connection (ioredis resubscribes after a reconnect);
 * - pub/sub is at most once (a gateway that was disconnected misses the message), so every
 *   `checkEveryMs` each gateway also reads `deletedAt` and `cancelledAt` of the jobs it holds tasks of
 *   (one pipelined `HMGET` per job; nothing when it holds none): such a job is cancelled here too;
 * - a task claimed from the stream after its job was cancelled is final in Redis (`failed`) and
 *   acked as such; the ids remembered here also catch a claim whose read raced the cancel.
 */
export class JobCancels {
  private readonly sub: Redis;
  private readonly cancelled = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(
    private readonly redis: Redis,
    private readonly meter: RedisMeter,
    private readonly options: JobCancelsOptions,
  ) {
    this.sub = redis.duplicate({ connectionName: `${redis.options.connectionName ?? 'tabgrid'}:cancels` });
    this.sub.on('error', (err: unknown) => options.onError?.('redis.cancels', err));
    this.sub.on('message', (channel: string, jobId: string) => {
      if (channel === KEYS.cancels) this.cancel(jobId);
    });
  }

  /** Subscribes (resolves once the subscription is confirmed) and starts the periodic check. */
  async start(): Promise<void> {
    await this.sub.subscribe(KEYS.cancels);
    this.timer = setInterval(() => void this.check(), this.options.checkEveryMs ?? 5000);
    this.timer.unref();
  }

  /** Whether this gateway knows the job was cancelled. */
  has(jobId: string): boolean {
    return this.cancelled.has(jobId);
  }

  /** Tells every gateway (call once the job's tasks are failed in Redis). */
  async publish(jobId: string): Promise<void> {
    await this.redis.publish(KEYS.cancels, jobId);
    this.meter.roundTrip();
  }

  /** Checks the held jobs for a deletion now (tests; it also runs on a timer). */
  async check(): Promise<void> {
    if (this.checking) return;
    const jobs = [...new Set(this.options.heldJobs())].filter((id) => !this.cancelled.has(id));
    if (jobs.length === 0) return;
    this.checking = true;
    try {
      const pipe = this.redis.pipeline();
      // Deleted, or cancelled (`POST /api/jobs/:id/cancel` keeps the job).
      for (const id of jobs) pipe.hmget(KEYS.job(id), 'deletedAt', 'cancelledAt');
      const replies = (await pipe.exec()) ?? [];
      this.meter.roundTrip(replies.length);
      replies.forEach(([err, marks], i) => {
        if (!err && (marks as (string | null)[]).some(Boolean)) this.cancel(jobs[i]!);
      });
    } catch (err) {
      this.options.onError?.('redis.cancels', err);
    } finally {
      this.checking = false;
    }
  }

  /** Stops the check and closes the subscriber (`QUIT`, or dropped if Redis does not answer). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.sub.status === 'ready') await this.sub.quit().catch(() => undefined);
    this.sub.disconnect();
  }

  private cancel(jobId: string): void {
    this.cancelled.delete(jobId);
    this.cancelled.add(jobId);
    if (this.cancelled.size > REMEMBERED) this.cancelled.delete(this.cancelled.values().next().value!);
    try {
      this.options.onCancelled(jobId);
    } catch (err) {
      this.options.onError?.('redis.cancels', err);
    }
  }
}
