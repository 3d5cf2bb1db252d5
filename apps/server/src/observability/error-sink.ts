import type { FastifyBaseLogger } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { classifyStorageError, describeError } from '../storage/storage-errors';

/**
 * The one place background failures go: a promise nobody awaits (an offer in
 * flight, a timer's work, a socket event handler), and the process-level
 * `unhandledRejection` / `uncaughtException` handlers. Each is logged with its
 * context and counted in `/metrics` as
 * `tabgrid_background_errors_total{where, kind}` (`kind` = `dependency` for
 * a database or disk fault, else `unknown`), so a failure there can no longer
 * end the process or vanish silently.
 */
export class ErrorSink {
  private readonly counter: Counter<'where' | 'kind'>;
  private readonly listeners: ((where: string, err: unknown) => void)[] = [];

  constructor(
    registry: Registry,
    private readonly log: FastifyBaseLogger,
  ) {
    this.counter = new Counter({
      name: 'tabgrid_background_errors_total',
      help: 'Errors caught by the error sink, by where they happened and kind (dependency = database/disk fault, unknown = a bug).',
      labelNames: ['where', 'kind'],
      registers: [registry],
    });
  }

  /** Logs and counts one error. `where` is a short stable name (a metrics label), e.g. `scheduler.offer`. */
  report(where: string, err: unknown, context: Record<string, unknown> = {}): void {
    const kind = classifyStorageError(err) ? 'dependency' : 'unknown';
    this.counter.inc({ where, kind });
    if (kind === 'dependency')
      this.log.warn({ where, error: describeError(err), ...context }, 'dependency fault');
    else this.log.error({ where, err, ...context }, 'background error');
    for (const listener of this.listeners) listener(where, err);
  }

  /** Attaches the sink to a promise nobody awaits: `sink.watch('scheduler.offer', this.offer(...))`. */
  watch(where: string, promise: Promise<unknown>, context?: Record<string, unknown>): void {
    promise.catch((err: unknown) => this.report(where, err, context));
  }

  /** Runs `fn`; if it throws, the error is reported and `fallback` returned. For timers and event handlers. */
  guard<T>(where: string, fn: () => T, fallback: T, context?: Record<string, unknown>): T {
    try {
      return fn();
    } catch (err) {
      this.report(where, err, context);
      return fallback;
    }
  }

  /** Called after each report (the health monitor listens for dependency faults). */
  onReport(listener: (where: string, err: unknown) => void): void {
    this.listeners.push(listener);
  }

  /** How many errors were reported (all labels), for tests and the shutdown log. */
  async total(): Promise<number> {
    const metric = await this.counter.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  }
}
