/**
 * Prometheus metrics of one server (`GET /metrics`), on a registry of its own
 * so several servers in one process (tests) never share counters.
 *
 * The scheduler reports through `LiveStatsTracker`'s sink (`StatsSink`), so the
 * scheduling code needs no knowledge of prom-client.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EndedLease, TaskRecord } from '../store/records';

/** What the scheduler and the live-stats tracker report. Every method is cheap and synchronous. */
export interface StatsSink {
  ack(ms: number): void;
  /** submitted -> result stored, ms. */
  result(ms: number): void;
  /** Volunteer-reported inference time, ms. */
  inference(ms: number): void;
  /** A result was accepted from `volunteerId`; `receivedAt` is `performance.now()` when it arrived. */
  taskDone(volunteerId: string, receivedAt: number, workWaiting: boolean): void;
  /** An assignment is being sent to `volunteerId` (after its image was read). */
  offering(volunteerId: string): void;
  /** A lease ended without a result (ack timeout, lease expired, volunteer left, ...). */
  leaseEnded(ended: EndedLease): void;
  /** A volunteer reported it could not process a task (`code`, e.g. `undecodable`). */
  taskReported(task: TaskRecord, code: string): void;
  /** Tasks failed for being overdue. */
  overdue(tasks: readonly TaskRecord[]): void;
  /** The volunteer left: forget its pending dispatch mark. */
  volunteerLeft(volunteerId: string): void;
}

export const NOOP_SINK: StatsSink = {
  ack: () => undefined,
  result: () => undefined,
  inference: () => undefined,
  taskDone: () => undefined,
  offering: () => undefined,
  leaseEnded: () => undefined,
  taskReported: () => undefined,
  overdue: () => undefined,
  volunteerLeft: () => undefined,
};

/** Latency buckets in seconds: 0.1 ms .. 60 s. */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Dispatch overhead is server-only work: finer at the low end. */
const DISPATCH_BUCKETS = [
  0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1,
];

export interface MetricsSources {
  volunteersOnline(): number;
  queueDepth(): number;
}

/** The server's metrics. `sink` is what `LiveStatsTracker` is given; `render()` is the /metrics body. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly tasks: Counter<'outcome' | 'reason'>;
  readonly ackSeconds: Histogram;
  readonly inferenceSeconds: Histogram;
  readonly endToEndSeconds: Histogram;
  readonly dispatchSeconds: Histogram;
  /** performance.now() of each volunteer's last accepted result, until its next assignment is sent. */
  private readonly lastResultAt = new Map<string, number>();
  readonly sink: StatsSink;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) {
      // process_*, nodejs_heap_*, nodejs_eventloop_lag_* (monitorEventLoopDelay, reset at each scrape)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    }
    this.tasks = new Counter({
      name: 'tabgrid_tasks_total',
      help: 'Task outcomes: done, failed (reason = failure code), requeued (reason = why the lease ended).',
      labelNames: ['outcome', 'reason'],
      registers,
    });
    this.ackSeconds = new Histogram({
      name: 'tabgrid_ack_latency_seconds',
      help: 'Assignment sent -> volunteer acknowledged.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inferenceSeconds = new Histogram({
      name: 'tabgrid_inference_seconds',
      help: 'Inference time reported by volunteers (decode + model + post-processing).',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.endToEndSeconds = new Histogram({
      name: 'tabgrid_result_latency_seconds',
      help: 'Task submitted -> result stored.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.dispatchSeconds = new Histogram({
      name: 'tabgrid_dispatch_overhead_seconds',
      help: "Server time from a volunteer's accepted result to sending that volunteer its next assignment (only when work was queued).",
      buckets: DISPATCH_BUCKETS,
      registers,
    });
    this.tasks.inc({ outcome: 'done', reason: '' }, 0);

    const marks = this.lastResultAt;
    // One child per label pair, looked up once (prom-client hashes the labels on every `inc`).
    const children = new Map<string, { inc(): void }>();
    const count = (outcome: 'done' | 'failed' | 'requeued', reason: string) => {
      const key = `${outcome}\n${reason}`;
      let child = children.get(key);
      if (!child) children.set(key, (child = this.tasks.labels(outcome, reason)));
      child.inc();
    };
    const failedOrRequeued = (task: TaskRecord, reason: string) => {
      if (task.status === 'queued') count('requeued', reason);
      else if (task.status === 'failed') count('failed', task.errorCode ?? reason);
    };
    this.sink = {
      ack: (ms) => this.ackSeconds.observe(ms / 1000),
      result: (ms) => this.endToEndSeconds.observe(ms / 1000),
      inference: (ms) => this.inferenceSeconds.observe(ms / 1000),
      taskDone: (volunteerId, receivedAt, workWaiting) => {
        count('done', '');
        if (workWaiting) marks.set(volunteerId, receivedAt);
        else marks.delete(volunteerId);
      },
      offering: (volunteerId) => {
        const at = marks.get(volunteerId);
        if (at === undefined) return;
        marks.delete(volunteerId);
        this.dispatchSeconds.observe((performance.now() - at) / 1000);
      },
      leaseEnded: ({ assignment, task }) => failedOrRequeued(task, assignment.outcome ?? 'lease_expired'),
      taskReported: (task, code) => failedOrRequeued(task, code),
      overdue: (tasks) => {
        for (const t of tasks) if (t.status === 'failed') count('failed', 'overdue');
      },
      volunteerLeft: (volunteerId) => marks.delete(volunteerId),
    };
  }

  /** Gauges read at scrape time. */
  bindGauges(sources: MetricsSources): void {
    new Gauge({
      name: 'tabgrid_volunteers_online',
      help: 'Connected volunteers.',
      registers: [this.registry],
      collect() {
        this.set(sources.volunteersOnline());
      },
    });
    new Gauge({
      name: 'tabgrid_queue_depth',
      help: 'Queued tasks.',
      registers: [this.registry],
      collect() {
        this.set(sources.queueDepth());
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
