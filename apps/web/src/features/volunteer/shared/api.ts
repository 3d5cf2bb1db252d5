/**
 * The contract between the volunteer page and its socket worker. Lib-agnostic
 * (no DOM, no WebWorker globals): the page imports only this module, never
 * the worker's code.
 */
import type { Detection } from '@tabgrid/protocol';
import type { OfferTiming, VolunteerClientState } from '@tabgrid/volunteer-client';
import type { PoolInitInfo, PoolShape } from '../../inference/client';

/** What the page renders: the client's state plus the inference pool's. */
export interface WorkerSnapshot {
  client: VolunteerClientState;
  /** Inference workers and WASM threads per worker (known before the model loads). */
  pool: PoolShape;
  /** The pool's runtime, once the model is loaded. */
  runtime: PoolInitInfo | null;
  /** Recent inference times (ms), newest last, at most 200. */
  inferenceSamplesMs: number[];
  /** Resting between tasks to keep within the CPU budget's duty cycle (not accepting meanwhile). */
  resting: boolean;
  /** Measured share (0–1) of the workers' time spent busy over the last minute; null before a task. */
  busyShare: number | null;
}

/** The photo being worked on, for display. `image` is sent once, when the task starts. */
export type CurrentUpdate =
  | {
      kind: 'started';
      assignmentId: string;
      name: string;
      mime: string;
      width: number;
      height: number;
      image: ArrayBuffer;
    }
  | {
      kind: 'finished';
      assignmentId: string;
      width: number;
      height: number;
      detections: Detection[];
      inferenceMs: number;
    }
  | { kind: 'failed'; assignmentId: string };

export interface VolunteerWorkerOptions {
  /** Worker pool size override (`?workers=K`). */
  workers?: number;
  /** WASM threads per worker override (`?threads=N`; alone it means one worker). */
  threads?: number;
  /** `?measure=1`: keep offer, inference and event-loop timings for `measures()` (bench only). */
  measure?: boolean;
}

/** What the socket worker measured with `measure` on; times are epoch ms on the server's clock. */
export interface MeasureReport {
  offers: OfferTiming[];
  /** Each detect on the inference pool, from the call to its answer (decode + inference). */
  inferences: { assignmentId: string; start: number; end: number }[];
  /** The socket worker's event loop was busy `ms` longer than a 5 ms timer asked, ending `at`. */
  stalls: { at: number; ms: number }[];
}

/** The one object the socket worker exposes with `Comlink.expose`. */
export interface VolunteerWorkerApi {
  /**
   * Creates the client (once). `onState` receives every snapshot, `onCurrent`
   * the photo on display; both must be wrapped in `Comlink.proxy`.
   */
  init(
    options: VolunteerWorkerOptions,
    onState: (snapshot: WorkerSnapshot) => void,
    onCurrent: (update: CurrentUpdate) => void,
  ): Promise<WorkerSnapshot>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The owner's pause (the page combines: paused, paused for an hour, hidden tab, on battery). */
  setPaused(paused: boolean): void;
  /**
   * The CPU budget's duty cycle, 0 < fraction ≤ 1: after a task that kept a
   * worker busy for t ms the tab rests (takes no new tasks) t·(1 − f)/f ms,
   * so busy time stays at most f of wall time.
   */
  setDutyCycle(fraction: number): void;
  /** Stops and terminates the inference workers. */
  dispose(): Promise<void>;
  /** What was measured so far (null unless `measure` was set). */
  measures(): Promise<MeasureReport | null>;
}
