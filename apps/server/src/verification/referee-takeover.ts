import type { RefereeOutcome } from './referee';

/** How often a takeover the referee refused (over its budget, or busy) is tried again (ms). */
export const TAKEOVER_RETRY_MS = 200;

/** Failed referee runs (worker error) on a taken-over task before the referee gives up on it. */
export const TAKEOVER_MAX_FAILURES = 3;

export interface TakeoverDeps {
  /** Starts a referee run, or null at once when over its budget or busy (Referee.run). */
  run: (image: Uint8Array) => Promise<RefereeOutcome> | null;
  /** Reads the task's image, or null when the task no longer needs the referee (finished). */
  image: (taskId: string) => Promise<Uint8Array | null>;
  /** The referee's outcome for a task it took over. */
  settled: (taskId: string, outcome: RefereeOutcome) => void;
  /** The referee could not run it, `TAKEOVER_MAX_FAILURES` times. */
  gaveUp: (taskId: string, err: unknown) => void;
  /** A failure outside any task's outcome (the error sink). */
  report: (err: unknown, taskId: string) => void;
}

/**
 * The referee runs tasks lost too often itself (PROTOCOL.md rule T13, issue 17 A): a FIFO of such
 * tasks, run one after another within the referee's budget (its threads and runs per second,
 * shared with verification's other runs). A run the referee refuses is tried again shortly, in
 * order, not after a growing backoff: these tasks have no volunteer left to wait for.
 */
export class RefereeTakeover {
  /** Tasks waiting for the referee, in the order they were handed over. */
  private readonly waiting = new Set<string>();
  /** Tasks with the referee now (or their image being read). */
  private readonly inFlight = new Set<string>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  /** Set while the referee refused: nothing starts until it fires. */
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly d: TakeoverDeps,
    /** Runs started at once (each referee thread runs one and queues one). */
    private readonly concurrency = 2,
  ) {}

  /** Hands a task to the referee (once: a task already waiting keeps its place). */
  request(taskId: string): void {
    if (this.stopped) return;
    this.waiting.add(taskId);
    this.drain();
  }

  /** Whether the task waits for, or is with, the referee. */
  has(taskId: string): boolean {
    return this.waiting.has(taskId);
  }

  /** The task finished otherwise: it no longer waits. */
  forget(taskId: string): void {
    this.waiting.delete(taskId);
    this.failures.delete(taskId);
  }

  get size(): number {
    return this.waiting.size;
  }

  private drain(): void {
    while (!this.stopped && !this.timer && this.running < this.concurrency) {
      const taskId = this.next();
      if (!taskId) return;
      this.running++;
      void this.runOne(taskId).finally(() => {
        this.running--;
        this.drain();
      });
    }
  }

  /** The first waiting task not already with the referee. */
  private next(): string | undefined {
    for (const id of this.waiting) if (!this.inFlight.has(id)) return id;
    return undefined;
  }

  private async runOne(taskId: string): Promise<void> {
    this.inFlight.add(taskId);
    try {
      const image = await this.d.image(taskId);
      if (!image || !this.waiting.has(taskId)) return this.forget(taskId);
      const run = this.d.run(image);
      if (!run) return this.later(); // over budget: it keeps its place
      let outcome: RefereeOutcome;
      try {
        outcome = await run;
      } catch (err) {
        const n = (this.failures.get(taskId) ?? 0) + 1;
        this.failures.set(taskId, n);
        if (n < TAKEOVER_MAX_FAILURES) return this.later();
        this.forget(taskId);
        return this.d.gaveUp(taskId, err);
      }
      if (!this.waiting.has(taskId)) return; // finished meanwhile
      this.forget(taskId);
      this.d.settled(taskId, outcome);
    } catch (err) {
      this.forget(taskId);
      this.d.report(err, taskId);
    } finally {
      this.inFlight.delete(taskId);
    }
  }

  /** Pauses, then tries the waiting tasks again (the referee was over budget or failed). */
  private later(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, TAKEOVER_RETRY_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.waiting.clear();
  }
}
