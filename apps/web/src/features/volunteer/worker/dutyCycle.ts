/**
 * The CPU budget's duty cycle ("use up to 50 %"): after each task the volunteer
 * rests in proportion to the time the task kept a worker busy, so busy time is
 * at most `fraction` of wall time. Resting is expressed through the client's
 * existing pause (no new offers while resting); held tasks still finish.
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

  private end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.restUntil = 0;
    this.onChange();
  }
}
