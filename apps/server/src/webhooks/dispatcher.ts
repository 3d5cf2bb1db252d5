import type { JobView } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorSink } from '../observability/error-sink';
import { retryDelay, type RetrySchedule } from './backoff';
import { sendWebhook, type SendOutcome } from './sender';
import type { WebhookSigner } from './signer';
import type { ClaimedDelivery, WebhookQueue } from './types';
import type { WebhookMetrics } from './webhook-metrics';

/** The body of an event (W3). */
export interface WebhookEvent {
  type: 'job.completed' | 'job.failed';
  /** When the job's end was seen (ISO 8601, UTC). */
  timestamp: string;
  /** The job's view, as `GET /api/jobs/:id` answers it. */
  data: JobView;
}

export interface DispatcherOptions {
  retry: RetrySchedule;
  /** One attempt's bound (connect, send, response headers), ms. */
  timeoutMs: number;
  allowPrivate: boolean;
  /** How often due deliveries are looked for, ms. @defaultValue 1000 */
  pollMs: number;
  /** How often every pending target is checked for a job that ended unseen, ms. @defaultValue 10000 */
  sweepMs: number;
  /** Attempts sent at once by this process. @defaultValue 8 */
  concurrency: number;
  /** Decided deliveries older than this are pruned at each sweep, ms. @defaultValue 7 days */
  retentionMs: number;
}

/** Decided deliveries pruned per store call (a sweep repeats until fewer come back). */
const PRUNE_BATCH = 500;

export interface DispatcherDeps {
  queue: WebhookQueue;
  /** The job's view (the scheduling store's `getJob`). */
  jobView: (jobId: string) => Promise<JobView | null>;
  /** True when the job was deleted by its owner, or does not exist (job access). */
  jobGone: (jobId: string) => Promise<boolean>;
  signer: WebhookSigner;
  errors: ErrorSink;
  metrics: WebhookMetrics;
  log: FastifyBaseLogger;
  now: () => number;
  /** The sender (a test seam; the product's is `sendWebhook`). */
  send?: typeof sendWebhook;
}

/** The job's event type, or null while it has unfinished tasks (W2). */
export function eventTypeOf(view: JobView): WebhookEvent['type'] | null {
  if (view.tasks.length === 0 || view.tasks.some((t) => t.status === 'queued' || t.status === 'running'))
    return null;
  return view.tasks.some((t) => t.status === 'failed') ? 'job.failed' : 'job.completed';
}

/** `webhook-id` of a job's event: one per job, the same on every attempt (W5). */
export const messageIdOf = (jobId: string) => `msg_${jobId}`;

/**
 * Sees jobs with a callback URL end and delivers their events (PROTOCOL.md W1–W12):
 * - a task that became final triggers a check of its job (`taskChanged`), and every `sweepMs`
 *   each pending target is checked, which finds what a check missed (another gateway's task, a
 *   restart);
 * - a job that ended gets its event enqueued once (the queue refuses a second), with the body
 *   fixed then;
 * - every `pollMs` due deliveries are claimed (a lease of `timeoutMs` + 30 s), signed, sent, and
 *   recorded as delivered, retried later with backoff, or given up.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly toCheck = new Set<string>();
  private lastSweep = -Infinity;
  private ticking: Promise<void> | null = null;
  private stopped = true;
  private readonly send: typeof sendWebhook;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions,
  ) {
    this.send = deps.send ?? sendWebhook;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the loops and waits for attempts in flight (each bounded by `timeoutMs`). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.timer = this.checkTimer = null;
    await this.ticking;
  }

  /** A task of `jobId` became final: its job is checked soon (checks are batched per 50 ms). */
  taskChanged(jobId: string): void {
    if (this.stopped) return;
    this.toCheck.add(jobId);
    this.checkTimer ??= setTimeout(() => {
      this.checkTimer = null;
      const jobs = [...this.toCheck];
      this.toCheck.clear();
      this.deps.errors.watch(
        'webhooks.check',
        (async () => {
          let enqueued = false;
          for (const jobId of jobs) enqueued = (await this.checkJob(jobId)) || enqueued;
          if (enqueued) this.schedule(0);
        })(),
      );
    }, 50);
    this.checkTimer.unref();
  }

  /**
   * Decides a pending target's fate: nothing yet (unfinished), dropped (deleted by its owner
   * before it ended, W4), or its event enqueued (W2, W3). True when this call enqueued it.
   */
  async checkJob(jobId: string): Promise<boolean> {
    const { queue } = this.deps;
    const target = await queue.target(jobId);
    if (!target) return false;
    const gone = await this.deps.jobGone(jobId);
    const view = gone ? null : await this.deps.jobView(jobId);
    if (!view || view.tasks.some((t) => t.error?.code === 'cancelled')) {
      // Deleted (or cancelled by a deletion under way): no event.
      await queue.dropTarget(jobId);
      return false;
    }
    const type = eventTypeOf(view);
    if (!type) return false;
    const now = this.deps.now();
    const event: WebhookEvent = { type, timestamp: new Date(now).toISOString(), data: view };
    const enqueued = await queue.enqueue({
      jobId,
      msgId: messageIdOf(jobId),
      url: target.url,
      payload: JSON.stringify(event),
      dueAt: now,
    });
    if (enqueued) this.deps.log.info({ jobId, type }, 'webhook event enqueued');
    return enqueued;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.ticking) return this.schedule(this.options.pollMs);
      this.ticking = this.tick()
        .catch((err: unknown) => this.deps.errors.report('webhooks.tick', err))
        .finally(() => {
          this.ticking = null;
          this.schedule(this.options.pollMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** One round: the sweep when due, then every due delivery (in batches of `concurrency`). */
  private async tick(): Promise<void> {
    const now = this.deps.now();
    if (now - this.lastSweep >= this.options.sweepMs) {
      this.lastSweep = now;
      await this.sweep();
      await this.prune(now);
    }
    for (;;) {
      if (this.stopped) return;
      const at = this.deps.now();
      const leaseUntil = at + this.options.timeoutMs + 30_000;
      const claimed = await this.deps.queue.claimDue(at, leaseUntil, this.options.concurrency);
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((d) => this.attempt(d)));
    }
  }

  /** Checks every pending target, a page at a time. */
  private async sweep(): Promise<void> {
    let after: string | null = null;
    for (;;) {
      const page = await this.deps.queue.targets(100, after);
      for (const t of page) {
        if (this.stopped) return;
        await this.checkJob(t.jobId).catch((err: unknown) =>
          this.deps.errors.report('webhooks.check', err, { jobId: t.jobId }),
        );
      }
      if (page.length < 100) return;
      after = page[page.length - 1]!.jobId;
    }
  }

  /** Forgets decided deliveries past their retention, a batch at a time. */
  private async prune(now: number): Promise<void> {
    let pruned = 0;
    for (;;) {
      if (this.stopped) break;
      const n = await this.deps.queue.prune(now - this.options.retentionMs, PRUNE_BATCH);
      pruned += n;
      if (n < PRUNE_BATCH) break;
    }
    if (pruned > 0) this.deps.log.info({ pruned }, 'decided webhook deliveries pruned');
  }

  private async attempt(d: ClaimedDelivery): Promise<void> {
    const { queue, metrics, log } = this.deps;
    const headers = this.deps.signer.sign(d.msgId, this.deps.now(), d.payload);
    const outcome: SendOutcome = await this.send(d.url, headers, d.payload, {
      timeoutMs: this.options.timeoutMs,
      allowPrivate: this.options.allowPrivate,
    });
    try {
      if (outcome.ok) {
        if (await queue.complete(d.jobId, d.token, this.deps.now())) metrics.count('delivered');
        log.info({ jobId: d.jobId, attempt: d.attempts, status: outcome.status }, 'webhook delivered');
        return;
      }
      const wait = retryDelay(d.attempts, this.options.retry);
      if (wait === null) {
        if (await queue.giveUp(d.jobId, d.token, outcome.error, this.deps.now())) metrics.count('given_up');
        log.warn({ jobId: d.jobId, attempts: d.attempts, error: outcome.error }, 'webhook given up');
      } else {
        if (await queue.retry(d.jobId, d.token, this.deps.now() + wait, outcome.error))
          metrics.count('retried');
        log.info(
          { jobId: d.jobId, attempt: d.attempts, error: outcome.error, retryInMs: wait },
          'webhook attempt failed',
        );
      }
    } catch (err) {
      // The store failed: the claim's lease passes and the attempt is made again (W6).
      this.deps.errors.report('webhooks.record', err, { jobId: d.jobId });
    }
  }
}
