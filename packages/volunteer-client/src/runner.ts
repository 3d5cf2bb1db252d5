/**
 * The one thing the browser and the agent do differently: run the detector.
 * A `Runner` owns a pool of `slots` sessions; the client never asks it to run
 * more than `slots` tasks at once.
 */
import type { Detection, ModelInfo, TaskFailureCode } from '@tabgrid/protocol';

/** What a runner gets for one task: the assignment without the lease bookkeeping. */
export interface RunnerTask {
  assignmentId: string;
  taskId: string;
  name: string;
  mime: string;
  /** The task's (EXIF-oriented) size, as the server measured it. */
  width: number;
  height: number;
  /** Encoded image bytes. A runner may transfer (detach) them. */
  image: ArrayBuffer | Uint8Array;
}

export interface RunnerOutput {
  detections: Detection[];
  /** Decode + pre-processing + inference + post-processing, ms. */
  inferenceMs: number;
}

export interface RunnerModel {
  /** Where the verified model bytes came from (a path, a URL, `cache`...). */
  source: string;
  /** Anything else the runner wants a UI to show (backend, threads, load time). */
  details?: Record<string, unknown>;
}

export interface Runner {
  /** Tasks this runner runs at once (announced to the server as `slots`). */
  readonly slots: number;
  /**
   * Loads the model the server announced and checks its SHA-256 (PROTOCOL.md
   * rule T1): rejects with `RunnerError('model_mismatch')` if the bytes differ.
   * Called again only when the server announces a different model.
   */
  load(model: ModelInfo, server: string): Promise<RunnerModel>;
  /** Runs one task. Rejects with a `RunnerError` whose code is reported in `task:error`. */
  detect(task: RunnerTask): Promise<RunnerOutput>;
  /** Releases every session. */
  close(): Promise<void>;
}

/**
 * A task failure with the code the volunteer reports (`undecodable`,
 * `inference_failed`, `model_mismatch`). `fatal` stops the volunteer after the
 * report (its runtime is unusable).
 */
export class RunnerError extends Error {
  override readonly name = 'RunnerError';
  constructor(
    readonly code: TaskFailureCode,
    message: string,
    readonly fatal = code === 'model_mismatch',
  ) {
    super(message);
  }
}

/** Any thrown value as a RunnerError (unknown errors are `inference_failed`). */
export function toRunnerError(err: unknown): RunnerError {
  if (err instanceof RunnerError) return err;
  return new RunnerError('inference_failed', err instanceof Error ? err.message : String(err));
}
