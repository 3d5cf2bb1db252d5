import type { LiveStats, VolunteerCounts } from '@tabgrid/protocol';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NOOP_SINK, type StatsSink } from '../observability/metrics';
import type { TaskCounts } from '../store/records';
import { RollingWindow } from './rolling-window';

/** A rolling window that also forwards every sample (to the Prometheus histograms). */
class ForwardingWindow extends RollingWindow {
  constructor(private readonly forward: (value: number) => void) {
    super();
  }

  override add(value: number, at = Date.now()): void {
    super.add(value, at);
    this.forward(value);
  }
}

/** The figures the live view shows, over the last minute. Every sample also goes to `sink` (/metrics). */
export class LiveStatsTracker {
  readonly ack: RollingWindow;
  readonly result: RollingWindow;
  readonly inference: RollingWindow;
  readonly requeued = new RollingWindow();
  /** What the scheduler reports to: the given sink (/metrics), plus the requeue window above. */
  readonly sink: StatsSink;
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });

  constructor(sink: StatsSink = NOOP_SINK) {
    this.ack = new ForwardingWindow((v) => sink.ack(v));
    this.result = new ForwardingWindow((v) => sink.result(v));
    this.inference = new ForwardingWindow((v) => sink.inference(v));
    this.sink = {
      ...sink,
      leaseEnded: (ended) => {
        if (ended.task.status === 'queued') this.requeued.add(1);
        sink.leaseEnded(ended);
      },
    };
    this.loop.enable();
  }

  /** The event-loop delay since the previous call, in ms. */
  private loopLag(): LiveStats['eventLoopLagMs'] {
    const ms = (ns: number) => Math.round(ns / 1e5) / 10;
    const lag =
      this.loop.count > 0
        ? { p50: ms(this.loop.percentile(50)), p99: ms(this.loop.percentile(99)), max: ms(this.loop.max) }
        : { p50: null, p99: null, max: null };
    this.loop.reset();
    return lag;
  }

  snapshot(volunteers: VolunteerCounts, tasks: TaskCounts, now = Date.now()): LiveStats {
    return {
      at: now,
      volunteersOnline: volunteers.online,
      volunteers,
      tasks,
      ackLatencyMs: this.ack.summary(now),
      resultLatencyMs: this.result.summary(now),
      inferenceMs: this.inference.summary(now),
      resultsLastMinute: this.result.count(now),
      requeuedLastMinute: this.requeued.count(now),
      eventLoopLagMs: this.loopLag(),
    };
  }

  stop(): void {
    this.loop.disable();
  }
}
