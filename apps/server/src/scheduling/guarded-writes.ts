import type { Ack } from '@tabgrid/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorSink } from '../observability/error-sink';
import type { DispatchGate } from '../observability/health';
import { classifyStorageError } from '../storage/storage-errors';
import { PartialBatchError } from '../store/records';

/** A lease write (ack, release) that failed is tried again this many times, backing off from RETRY_BASE_MS. */
export const WRITE_RETRIES = 5;
const RETRY_BASE_MS = 100;

/** The breaker is open: requests that need a database write are refused at once. */
export class StorageUnavailable extends Error {
  override readonly name = 'StorageUnavailable';
  constructor() {
    super('the server cannot write to its database right now; send the same again in a few seconds');
  }
}

/**
 * Store writes while the database may be down: a failed write goes to the error sink and (for a
 * database fault) opens the breaker; background writes are tried again with backoff, and wait
 * without using up their tries while the breaker is open (a locked database would block the
 * event loop for its busy timeout on each try).
 */
export class GuardedWrites {
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly errors: ErrorSink,
    private readonly gate: DispatchGate,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Whether writes may be tried now (the breaker is closed). */
  get allowed(): boolean {
    return !this.stopped && this.gate.dispatchAllowed();
  }

  /** Runs a store write from a background path; a throw goes to the error sink. Whether it succeeded. */
  write(where: string, fn: () => void, context?: Record<string, unknown>): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.fault(where, err, context);
      return false;
    }
  }

  /** Reports a failure; a database fault also opens the breaker (dispatch pauses). */
  fault(where: string, err: unknown, context?: Record<string, unknown>): void {
    const cause = err instanceof PartialBatchError ? err.cause : err;
    this.errors.report(where, cause, context);
    if (classifyStorageError(cause)) this.gate.markFailed('database', cause);
  }

  /**
   * `write`, tried again up to WRITE_RETRIES times with backoff if it fails; after that the
   * lease's own expiry settles it (the database stays the truth). While the breaker is open the
   * write waits without using up its tries. `stillWanted` is asked before every try: false drops it.
   */
  withRetry(
    where: string,
    fn: () => void,
    context: Record<string, unknown>,
    stillWanted: () => boolean = () => true,
    attempt = 0,
  ): void {
    if (this.stopped || !stillWanted()) return;
    if (!this.gate.dispatchAllowed()) {
      this.later(() => this.withRetry(where, fn, context, stillWanted, attempt), attempt);
      return;
    }
    if (this.write(where, fn, { ...context, attempt })) return;
    if (attempt + 1 >= WRITE_RETRIES) {
      this.log.warn({ where, ...context }, 'giving up the write; the lease expiry will settle it');
      return;
    }
    this.later(() => this.withRetry(where, fn, context, stillWanted, attempt + 1), attempt + 1);
  }

  /** Runs `fn` after the backoff for try number `attempt` (100 ms, 200 ms, … at most 1.6 s). */
  private later(fn: () => void, attempt: number): void {
    const timer = setTimeout(
      () => {
        this.retries.delete(timer);
        fn();
      },
      RETRY_BASE_MS * 2 ** Math.min(attempt, WRITE_RETRIES - 1),
    );
    timer.unref();
    this.retries.add(timer);
  }

  /** Fails fast while the breaker is open: a locked database would block the event loop. */
  assertStorage(): void {
    if (!this.gate.dispatchAllowed()) throw new StorageUnavailable();
  }

  /** The ack for a volunteer request that failed: `storage_unavailable` (retry) for dependency faults. */
  refusal(where: string, err: unknown, volunteerId: string): Extract<Ack<never>, { ok: false }> {
    if (err instanceof StorageUnavailable) {
      return { ok: false, code: 'storage_unavailable', message: err.message };
    }
    this.fault(where, err, { volunteerId });
    return classifyStorageError(err)
      ? {
          ok: false,
          code: 'storage_unavailable',
          message: 'the server cannot write to its database right now; send the same again in a few seconds',
        }
      : { ok: false, code: 'internal', message: 'internal error' };
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }
}
