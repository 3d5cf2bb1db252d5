import type { FastifyBaseLogger } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { classifyStorageError, describeError, type StorageFault } from '../storage/storage-errors';

/**
 * One dependency the server needs, checked periodically. Today: `database`
 * (SQLite) and `disk` (free space); a Redis store adds its own probe the same
 * way.
 */
export interface DependencyProbe {
  name: string;
  /** Throws (or rejects) when the dependency cannot be used. Must be cheap: it runs every `intervalMs`. */
  check(): void | Promise<void>;
  /** While this dependency fails, the scheduler hands out no new work (it would only burn attempts). */
  gatesDispatch: boolean;
}

export interface DependencyFailure {
  name: string;
  error: string;
  /** `Date.now()` when it was first seen failing. */
  since: number;
  /** `full` when the latest error says the disk is full (uploads then get 507, not 503). */
  fault: StorageFault | null;
}

/** What the scheduler consults before dispatching, and tells when a store write fails. */
export interface DispatchGate {
  dispatchAllowed(): boolean;
  /** A write failed with a dependency fault: stop dispatching until the next successful probe. */
  markFailed(name: string, err: unknown): void;
}

/**
 * Runs the dependency probes every `intervalMs`, remembers which fail, and
 * acts as the scheduler's circuit breaker: a failure seen by a probe, or
 * reported by a failed write (`markFailed`), opens it at once; the next
 * successful probe closes it and calls the `onRecovered` listeners with how
 * long the dependency was down. Backs `/healthz` and
 * `tabgrid_dependency_up{name}` in `/metrics`.
 */
export class HealthMonitor implements DispatchGate {
  private readonly failures = new Map<string, DependencyFailure>();
  private readonly recovered: ((name: string, downMs: number) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly probes: readonly DependencyProbe[],
    private readonly intervalMs: number,
    registry: Registry,
    private readonly log: FastifyBaseLogger,
  ) {
    const failures = this.failures;
    new Gauge({
      name: 'tabgrid_dependency_up',
      help: '1 while the dependency answers its probe, 0 while it fails.',
      labelNames: ['name'],
      registers: [registry],
      collect() {
        for (const p of probes) this.set({ name: p.name }, failures.has(p.name) ? 0 : 1);
      },
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.checkNow(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Runs every probe once (concurrent calls share one run). */
  checkNow(): Promise<void> {
    this.running ??= this.runProbes().finally(() => (this.running = null));
    return this.running;
  }

  private async runProbes(): Promise<void> {
    for (const probe of this.probes) {
      try {
        await probe.check();
        this.markUp(probe.name);
      } catch (err) {
        this.markFailed(probe.name, err);
      }
    }
  }

  markFailed(name: string, err: unknown): void {
    const known = this.failures.get(name);
    const error = describeError(err);
    const fault = classifyStorageError(err);
    if (known) {
      known.error = error;
      known.fault = fault;
      return;
    }
    this.failures.set(name, { name, error, since: Date.now(), fault });
    this.log.warn({ dependency: name, error }, 'dependency down');
  }

  private markUp(name: string): void {
    const known = this.failures.get(name);
    if (!known) return;
    this.failures.delete(name);
    const downMs = Date.now() - known.since;
    this.log.info({ dependency: name, downMs }, 'dependency back');
    for (const listener of this.recovered) listener(name, downMs);
  }

  /** Listeners run when a failing dependency answers its probe again. */
  onRecovered(listener: (name: string, downMs: number) => void): void {
    this.recovered.push(listener);
  }

  isUp(name: string): boolean {
    return !this.failures.has(name);
  }

  /** How a failing dependency fails, or null while it is up. */
  failure(name: string): DependencyFailure | null {
    const f = this.failures.get(name);
    return f ? { ...f } : null;
  }

  dispatchAllowed(): boolean {
    if (this.failures.size === 0) return true;
    return this.probes.every((p) => !p.gatesDispatch || !this.failures.has(p.name));
  }

  /** Every probe's name and whether it currently answers. */
  dependencies(): { name: string; ok: boolean }[] {
    return this.probes.map((p) => ({ name: p.name, ok: !this.failures.has(p.name) }));
  }

  failing(): DependencyFailure[] {
    return [...this.failures.values()].map((f) => ({ ...f }));
  }
}
