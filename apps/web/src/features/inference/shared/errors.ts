/**
 * Typed inference errors. Comlink carries only `name`, `message` and `stack`
 * across the worker boundary, so the code travels inside `name`
 * (`InferenceError:<code>`) and is rebuilt on the UI side.
 */
export const INFERENCE_ERROR_CODES = [
  'model_mismatch',
  'model_unavailable',
  'not_initialized',
  'undecodable',
  'inference_failed',
  'worker_crashed',
  'timeout',
] as const;
export type InferenceErrorCode = (typeof INFERENCE_ERROR_CODES)[number];

const PREFIX = 'InferenceError:';

export class InferenceError extends Error {
  constructor(
    readonly code: InferenceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = `${PREFIX}${code}`;
  }
}

/** Rebuilds an InferenceError from anything thrown across Comlink (unknown errors become `inference_failed`). */
export function toInferenceError(err: unknown): InferenceError {
  if (err instanceof InferenceError) return err;
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  if (name.startsWith(PREFIX)) {
    const code = name.slice(PREFIX.length);
    if ((INFERENCE_ERROR_CODES as readonly string[]).includes(code)) {
      return new InferenceError(code as InferenceErrorCode, message);
    }
  }
  return new InferenceError('inference_failed', message || 'inference failed');
}
