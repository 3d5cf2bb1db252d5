import * as ort from 'onnxruntime-web/wasm';

/** Threads to use: explicit override, else min(4, cores) when cross-origin isolated, else 1. */
export function chooseThreads(override?: number): number {
  if (!self.crossOriginIsolated) return 1; // no SharedArrayBuffer: single-threaded build path
  if (override !== undefined && Number.isFinite(override) && override >= 1)
    return Math.min(16, Math.floor(override));
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

let configuredThreads: number | null = null;

/**
 * Configures onnxruntime-web once (the WASM runtime is initialised by the first
 * session, after which env changes have no effect). Runtime files come from
 * our own origin at `/ort/<onnxruntime-web version>/` (versioned, so cached for a year).
 */
export function configureRuntime(threads: number): number {
  if (configuredThreads !== null) return configuredThreads;
  ort.env.wasm.wasmPaths = new URL(`/ort/${ort.env.versions.web}/`, self.location.href).href;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false; // we already are a worker
  ort.env.logLevel = 'warning';
  configuredThreads = threads;
  return threads;
}

export async function createSession(model: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
}

export { ort };
