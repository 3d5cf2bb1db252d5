/**
 * The browser's `Runner`: the onnxruntime-web inference worker pool (nested
 * dedicated workers, one warm session each). The model's SHA-256 is checked
 * by the inference worker when it loads the bytes (rule T1).
 */
import type { ModelInfo } from '@tabgrid/protocol';
import {
  RunnerError,
  type Runner,
  type RunnerModel,
  type RunnerOutput,
  type RunnerTask,
} from '@tabgrid/volunteer-client';
import { InferencePool, toInferenceError, type PoolInitInfo } from '../../inference/client';

export class PoolRunner implements Runner {
  runtime: PoolInitInfo | null = null;

  constructor(
    private readonly pool: InferencePool,
    /** Told when an inference ends, before its result is reported (for display). */
    private readonly onDetected: (
      task: RunnerTask,
      out: RunnerOutput & { width: number; height: number },
      busy: { start: number; end: number },
    ) => void,
    /** Awaited before each inference starts (the duty cycle's rest). */
    private readonly beforeDetect: () => Promise<void> = () => Promise.resolve(),
  ) {}

  get slots(): number {
    return this.pool.size;
  }

  async load(model: ModelInfo): Promise<RunnerModel> {
    try {
      this.runtime = await this.pool.init({
        modelUrl: model.url,
        sha256: model.sha256,
        labels: model.labels,
      });
    } catch (err) {
      const typed = toInferenceError(err);
      throw new RunnerError(
        typed.code === 'model_mismatch' ? 'model_mismatch' : 'inference_failed',
        `model could not be loaded (${typed.code}): ${typed.message}`,
        true,
      );
    }
    return { source: this.runtime.modelSource, details: { ...this.runtime } };
  }

  async detect(task: RunnerTask): Promise<RunnerOutput> {
    const image =
      task.image instanceof ArrayBuffer
        ? task.image
        : (task.image.buffer.slice(
            task.image.byteOffset,
            task.image.byteOffset + task.image.byteLength,
          ) as ArrayBuffer);
    await this.beforeDetect();
    try {
      const start = performance.now();
      const out = await this.pool.detect(image, task.mime, task.width, task.height);
      const result = { detections: out.detections, inferenceMs: out.timings.totalMs };
      this.onDetected(
        task,
        { ...result, width: out.width, height: out.height },
        { start, end: performance.now() },
      );
      return result;
    } catch (err) {
      const typed = toInferenceError(err);
      const code =
        typed.code === 'undecodable' || typed.code === 'model_mismatch' ? typed.code : 'inference_failed';
      throw new RunnerError(code, typed.message);
    }
  }

  async close(): Promise<void> {
    this.pool.terminate();
  }
}
