import type { LiveStats } from '@tabgrid/protocol';
import { NOOP_SINK, type StatsSink } from '../observability/metrics';
import type { TaskCounts } from '../scheduling/types';
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

  constructor(readonly sink: StatsSink = NOOP_SINK) {
    this.ack = new ForwardingWindow((v) => sink.ack(v));
    this.result = new ForwardingWindow((v) => sink.result(v));
    this.inference = new ForwardingWindow((v) => sink.inference(v));
  }

  snapshot(volunteersOnline: number, tasks: TaskCounts, now = Date.now()): LiveStats {
    return {
      at: now,
      volunteersOnline,
      tasks,
      ackLatencyMs: this.ack.summary(now),
      resultLatencyMs: this.result.summary(now),
      inferenceMs: this.inference.summary(now),
      resultsLastMinute: this.result.count(now),
    };
  }
}
