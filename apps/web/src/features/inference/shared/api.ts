/**
 * The contract between the UI and the inference worker. Lib-agnostic (no DOM,
 * no WebWorker globals) so both tsconfigs can typecheck it; the UI imports
 * only this module, never the worker's code.
 */
import type { Detection } from '@tabgrid/protocol';

export interface InitOptions {
  /** Where to fetch the ONNX model (same origin), e.g. `/models/yolox_nano.onnx`. */
  modelUrl: string;
  /** Lowercase hex SHA-256 the server announced; the bytes must match. */
  sha256: string;
  /** Class names in model index order. */
  labels: string[];
  /**
   * WASM threads. @defaultValue min(4, hardwareConcurrency) when cross-origin
   * isolated, else 1. Only the first successful init fixes the value.
   */
  numThreads?: number;
}

export interface InitInfo {
  backend: 'wasm';
  /** WASM threads of each worker's session. */
  numThreads: number;
  simd: boolean;
  crossOriginIsolated: boolean;
  /** Fetch (or IndexedDB read) + hash check + session creation, ms. */
  loadMs: number;
  modelSource: 'network' | 'cache';
  /** Whether the session was already warm for this model (no load at all). */
  reused: boolean;
}

export interface DetectTimings {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
  /** decode + pre + inference + post. */
  totalMs: number;
}

export interface DetectOutput {
  detections: Detection[];
  /** Original image size (what the boxes refer to). */
  width: number;
  height: number;
  timings: DetectTimings;
}

/** The one object the worker exposes with `Comlink.expose`. */
export interface InferenceApi {
  init(options: InitOptions): Promise<InitInfo>;
  /**
   * Runs one image; calls are queued, one inference at a time. The buffer is transferred.
   * `width`/`height` (the task's EXIF-oriented size), when given, let the worker decode straight
   * to the model's letterbox size; boxes always refer to the original size.
   */
  detect(image: ArrayBuffer, mime: string, width?: number, height?: number): Promise<DetectOutput>;
}
