/**
 * The CPU budget's duty cycle ("use up to 50 %"): after each task the volunteer
 * rests in proportion to the time the task kept a worker busy, so busy time is
 * at most `fraction` of wall time. While resting the client takes no new offers
 * (its pause) and no held task starts (`untilRested`, awaited before each
 * inference): with prefetch, held tasks used to run straight through the rest,
 * which with the decode and transfer left out of "busy" gave about twice the
 * chosen share (issue 20; docs/PERFORMANCE.md "CPU budget").
 */
export const restAfterMs = (busyMs: number, fraction: number): number =>
  fraction >= 1 || busyMs <= 0 ? 0 : Math.round((busyMs * (1 - fraction)) / Math.max(0.05, fraction));

export class DutyCycle {
  private fraction = 1;
  private restUntil = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `onChange` is told whenever resting starts or ends. */
  constructor(private readonly onChange: () => void) {}

  get resting(): boolean {
    return Date.now() < this.restUntil;
  }

  setFraction(fraction: number): void {
    this.fraction = Math.min(1, Math.max(0.05, fraction));
    if (this.fraction >= 1 && this.resting) this.end();
  }

  /** A task kept a worker busy `busyMs`: rest for the matching gap (extending any rest under way). */
  taskDone(busyMs: number): void {
    const rest = restAfterMs(busyMs, this.fraction);
    if (rest <= 0) return;
    const wasResting = this.resting;
    this.restUntil = Math.max(this.restUntil, Date.now() + rest);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.end(), this.restUntil - Date.now());
    if (!wasResting) this.onChange();
  }

  /** Resolves once the current rest (if any) is over: the next inference may start. */
  untilRested(): Promise<void> {
    const wait = this.restUntil - Date.now();
    return wait > 0 ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve();
  }

  private end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.restUntil = 0;
    this.onChange();
  }
}

/**
 * The share of the workers' time spent busy over the last `windowMs`, from each task's own busy
 * interval (start to end of the inference call, decode and transfer included): what the budget
 * is measured against, shown in "Technical details".
 */
export class BusyMeter {
  private readonly spans: { start: number; end: number }[] = [];
  private first: number | null = null;

  constructor(private readonly windowMs = 60_000) {}

  add(start: number, end: number): void {
    this.first ??= start;
    this.spans.push({ start, end });
    const oldest = end - this.windowMs;
    while (this.spans.length > 0 && this.spans[0]!.end < oldest) this.spans.shift();
  }

  /** Busy share (0–1) of `workers` over the window (or since the first task), or null before one. */
  share(workers: number, now: number): number | null {
    if (this.first === null) return null;
    const from = Math.max(this.first, now - this.windowMs);
    const span = now - from;
    if (span <= 0) return null;
    let busy = 0;
    for (const s of this.spans) busy += Math.max(0, Math.min(s.end, now) - Math.max(s.start, from));
    return Math.min(1, busy / (span * Math.max(1, workers)));
  }
}
