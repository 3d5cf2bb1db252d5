/**
 * Measuring only (`?measure=1`): where an offer's time goes inside the tab. Keeps each offer's
 * receive and ack times (the client's `onOfferTiming`), each inference's span on the worker pool,
 * and the socket worker's event-loop stalls (a 5 ms interval that fires late), all on the
 * server's clock (epoch ms), for the bench to join with the server's own emit and ack times.
 */
import type { OfferTiming } from '@tabgrid/volunteer-client';
import type { MeasureReport } from '../shared/api';

const MAX_ROWS = 5000;
const TICK_MS = 5;
/** A tick later than this (ms) is kept as a stall. */
const STALL_MS = 4;

export class Measure {
  private readonly report: MeasureReport = { offers: [], inferences: [], stalls: [] };
  private readonly timer: ReturnType<typeof setInterval>;

  constructor() {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - last - TICK_MS;
      last = now;
      if (late > STALL_MS) this.push(this.report.stalls, { at: Date.now(), ms: late });
    }, TICK_MS);
  }

  offer(timing: OfferTiming): void {
    this.push(this.report.offers, timing);
  }

  inference(assignmentId: string, span: { start: number; end: number }): void {
    const origin = Date.now() - performance.now();
    this.push(this.report.inferences, { assignmentId, start: origin + span.start, end: origin + span.end });
  }

  read(): MeasureReport {
    return structuredClone(this.report);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private push<T>(rows: T[], row: T): void {
    rows.push(row);
    if (rows.length > MAX_ROWS) rows.shift();
  }
}
