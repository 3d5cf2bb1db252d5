import { Worker } from 'node:worker_threads';
import type { Detection } from '@tabgrid/protocol';
import type { RefereeClose, RefereeJob, RefereeReply } from './referee-worker';

/** How long `close()` lets a worker finish its run before terminating it. */
const CLOSE_GRACE_MS = 10_000;

export interface RefereeBudget {
  /** Worker threads, each running one inference at a time (0 = no referee). */
  workers: number;
  /** Most referee runs started per second; past it `run` returns null (a third volunteer decides). */
  perSecond: number;
}

/** What a referee run is for: settling a waiting task (V5), a canary's answer (V12), an `undecodable` check (V10). */
export type RefereePurpose = 'settle' | 'canary' | 'undecodable';

/** Why the referee refused a run: its runs per second, its workers all busy, or (`idle` runs) real work. */
export type RefereeRefusal = 'rate' | 'busy' | 'pressure';

/** What the referee reports (verification-metrics.ts counts it on /metrics). */
export interface RefereeObserver {
  started(purpose: RefereePurpose): void;
  refused(purpose: RefereePurpose, reason: RefereeRefusal): void;
}

export type RefereeOutcome =
  | {
      kind: 'detections';
      detections: Detection[];
      /** The run's own time in its worker (ms; absent from test fakes). */
      inferenceMs?: number;
    }
  | { kind: 'undecodable'; message: string };

/**
 * The server referee (PROTOCOL.md rule V5): the same detector as an honest agent, in worker
 * threads, within a CPU budget. Each worker holds one onnxruntime session on one thread.
 */
export class Referee {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, (reply: RefereeReply) => void>();
  private nextId = 1;
  private windowStart = 0;
  private startedInWindow = 0;
  private closed = false;
  /** When a run for real work (not `idle`) was last refused: the referee is under pressure. */
  private refusedAt = -Infinity;
  /** Runs posted to the workers and not answered yet (running, or queued behind one). */
  private inFlight = 0;

  constructor(
    private readonly modelPath: string,
    private readonly labels: readonly string[],
    private readonly budget: RefereeBudget,
    private readonly observer?: RefereeObserver,
  ) {}

  get enabled(): boolean {
    return this.budget.workers > 0 && !this.closed;
  }

  /** Runs posted to the workers and not answered yet (the referee's queue, on /metrics). */
  get queued(): number {
    return this.inFlight;
  }

  /** Runs the detector on `image`, or returns null at once when over budget. Rejects on a worker failure. */
  run(
    image: Uint8Array,
    now = Date.now(),
    purpose: RefereePurpose = 'settle',
  ): Promise<RefereeOutcome> | null {
    return this.start(image, now, purpose, false);
  }

  /**
   * A low-priority run (canaries, V12): only on an idle worker, within the budget, and only when
   * no real run was refused in the last two seconds; never queued behind or in front of real work.
   * Null otherwise (try again later).
   */
  runIdle(
    image: Uint8Array,
    now = Date.now(),
    purpose: RefereePurpose = 'canary',
  ): Promise<RefereeOutcome> | null {
    return this.start(image, now, purpose, true);
  }

  /** Whether a `runIdle` would start now (a worker idle, no pressure, budget left). */
  idle(now = Date.now()): boolean {
    if (!this.enabled || now - this.refusedAt < 2000) return false;
    if (now - this.windowStart < 1000 && this.startedInWindow >= this.budget.perSecond) return false;
    return this.workers.some((w) => w.busy === 0) || this.workers.length < this.budget.workers;
  }

  private start(
    image: Uint8Array,
    now: number,
    purpose: RefereePurpose,
    idle: boolean,
  ): Promise<RefereeOutcome> | null {
    if (!this.enabled) return null;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.startedInWindow = 0;
    }
    const refuse = (reason: RefereeRefusal) => {
      if (!idle) this.refusedAt = now;
      this.observer?.refused(purpose, reason);
      return null;
    };
    if (idle && now - this.refusedAt < 2000) return refuse('pressure');
    if (this.startedInWindow >= this.budget.perSecond) return refuse('rate');
    const slot = idle ? this.idleSlot() : this.slot();
    if (!slot) return refuse('busy');
    this.observer?.started(purpose);
    this.inFlight++;
    this.startedInWindow++;
    slot.busy++;
    const id = this.nextId++;
    return new Promise<RefereeOutcome>((resolve, reject) => {
      this.pending.set(id, (reply) => {
        slot.busy--;
        this.inFlight--;
        if (reply.kind === 'error') reject(new RefereeError(reply.message));
        else if (reply.kind === 'undecodable') resolve({ kind: 'undecodable', message: reply.message });
        else resolve({ kind: 'detections', detections: reply.detections, inferenceMs: reply.inferenceMs });
      });
      const job: RefereeJob = { id, image };
      slot.worker.postMessage(job);
    });
  }

  /** An idle worker (started on first use), or null. */
  private idleSlot(): { worker: Worker; busy: number } | null {
    const idle = this.workers.find((w) => w.busy === 0);
    if (idle) return idle;
    return this.workers.length < this.budget.workers ? this.spawn() : null;
  }

  /** An idle worker (started on first use), or one with a single job queued when all are busy. */
  private slot(): { worker: Worker; busy: number } | null {
    const idle = this.workers.find((w) => w.busy === 0);
    if (idle) return idle;
    if (this.workers.length < this.budget.workers) return this.spawn();
    return this.workers.find((w) => w.busy < 2) ?? null;
  }

  private spawn(): { worker: Worker; busy: number } {
    const worker = new Worker(new URL('./referee-worker-boot.mjs', import.meta.url), {
      workerData: { modelPath: this.modelPath, labels: [...this.labels] },
      // Not the server's own `--import`s (e.g. the bench's IPC probe, a .ts file that this
      // thread could not load before its loader is registered): the boot file registers tsx.
      execArgv: [],
    });
    worker.unref();
    const entry = { worker, busy: 0 };
    worker.on('message', (reply: RefereeReply) => {
      const done = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      done?.(reply);
    });
    worker.on('error', (err) => this.failAll(entry, err));
    worker.on('exit', () => {
      const i = this.workers.indexOf(entry);
      if (i >= 0) this.workers.splice(i, 1);
    });
    this.workers.push(entry);
    return entry;
  }

  private failAll(entry: { worker: Worker; busy: number }, err: Error): void {
    const i = this.workers.indexOf(entry);
    if (i >= 0) this.workers.splice(i, 1);
    for (const [id, done] of this.pending) {
      this.pending.delete(id);
      done({ id, kind: 'error', message: err.message });
    }
  }

  /**
   * Asks each worker to finish its run, release its session and exit; terminates only a worker
   * that has not left after CLOSE_GRACE_MS (terminating one mid-inference can abort the process).
   */
  async close(): Promise<void> {
    this.closed = true;
    const leaving = this.workers.map(async ({ worker }) => {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      const bye: RefereeClose = { close: true };
      worker.postMessage(bye);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
      });
      if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
      clearTimeout(timer);
    });
    await Promise.all(leaving);
    this.workers.length = 0;
  }
}

export class RefereeError extends Error {
  override readonly name = 'RefereeError';
}
