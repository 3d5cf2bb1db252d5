import type { LiveStats } from '@tabgrid/protocol';
import type { TaskCounts } from '../scheduling/types';
import { RollingWindow } from './rolling-window';

/** The figures the live view shows, over the last minute. */
export class LiveStatsTracker {
  readonly ack = new RollingWindow();
  readonly result = new RollingWindow();
  readonly inference = new RollingWindow();

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
