/**
 * The agent's `Runner`: `slots` onnxruntime-node sessions of the verified
 * model, each running one task at a time (sharp decodes, the shared
 * `@tabgrid/detector` pipeline does the rest).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ModelInfo } from '@tabgrid/protocol';
import { detect, NUM_CLASSES, REPORTED_SCORE_FLOOR, sha256Hex } from '@tabgrid/detector';
import {
  RunnerError,
  type Runner,
  type RunnerModel,
  type RunnerOutput,
  type RunnerTask,
} from '@tabgrid/volunteer-client';
import { createOrtRunner, decodeImage, UndecodableImageError, type OrtRunner } from '@tabgrid/node-runner';

/** The model `install-assets.mjs` puts in `public/models/`, used when its hash matches the server's. */
export const DEFAULT_LOCAL_MODEL = fileURLToPath(
  new URL('../../../public/models/yolox_nano.onnx', import.meta.url),
);

export interface NodeRunnerPoolOptions {
  /** Sessions, i.e. tasks run at once. @defaultValue 1 */
  slots?: number;
  /**
   * A model file to use. Its SHA-256 must equal the server's; the agent refuses
   * to work otherwise (it does not fall back to downloading).
   */
  modelPath?: string;
  /**
   * Used when `modelPath` is unset and the file's hash matches the server's;
   * otherwise the model is downloaded from `hello.model.url`.
   * @defaultValue DEFAULT_LOCAL_MODEL (`public/models/yolox_nano.onnx`)
   */
  localModelPath?: string;
  /**
   * onnxruntime intra-op threads per session.
   * @defaultValue onnxruntime's default with one slot; cores / slots (at least 1) with more
   */
  threads?: number;
}

export class NodeRunnerPool implements Runner {
  readonly slots: number;
  private sessions: OrtRunner[] = [];
  private idle: OrtRunner[] = [];
  private readonly waiting: ((r: OrtRunner) => void)[] = [];
  private labels: string[] = [];

  constructor(private readonly options: NodeRunnerPoolOptions = {}) {
    this.slots = Math.max(1, Math.floor(options.slots ?? 1));
  }

  async load(info: ModelInfo, server: string): Promise<RunnerModel> {
    if (info.labels.length !== NUM_CLASSES) {
      throw new RunnerError(
        'model_mismatch',
        `server announced ${info.labels.length} labels, expected ${NUM_CLASSES}`,
      );
    }
    const { bytes, source } = await this.modelBytes(info, server);
    const actual = await sha256Hex(bytes);
    if (actual !== info.sha256) {
      throw new RunnerError(
        'model_mismatch',
        `model from ${source} has sha256 ${actual}, the server expects ${info.sha256}`,
      );
    }
    const threads =
      this.options.threads ??
      (this.slots > 1 ? Math.max(1, Math.floor(availableParallelism() / this.slots)) : undefined);
    const fresh = await Promise.all(
      Array.from({ length: this.slots }, () => createOrtRunner(bytes, { threads })),
    );
    const old = this.sessions;
    this.sessions = fresh;
    this.idle = [...fresh];
    this.labels = info.labels;
    await Promise.all(old.map((s) => s.close().catch(() => undefined)));
    return {
      source,
      details: { backend: 'onnxruntime-node cpu', slots: this.slots, threads: threads ?? null },
    };
  }

  async detect(task: RunnerTask): Promise<RunnerOutput> {
    const image = task.image instanceof Uint8Array ? task.image : new Uint8Array(task.image);
    let pixels;
    try {
      pixels = await decodeImage(image);
    } catch (err) {
      const message = err instanceof UndecodableImageError ? err.message : String(err);
      throw new RunnerError('undecodable', `image could not be decoded: ${message}`);
    }
    const session = await this.acquire();
    try {
      // Down to the reported floor, not the shown 0.25: verification's hysteresis (PROTOCOL.md V2).
      const out = await detect(session.run, pixels, this.labels, { scoreThreshold: REPORTED_SCORE_FLOOR });
      return {
        detections: out.detections,
        inferenceMs: out.timings.preprocessMs + out.timings.inferenceMs + out.timings.postprocessMs,
      };
    } catch (err) {
      throw new RunnerError('inference_failed', err instanceof Error ? err.message : String(err));
    } finally {
      this.release(session);
    }
  }

  async close(): Promise<void> {
    const sessions = this.sessions;
    this.sessions = [];
    this.idle = [];
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
  }

  private async modelBytes(info: ModelInfo, server: string): Promise<{ bytes: Uint8Array; source: string }> {
    if (this.options.modelPath) {
      return { bytes: await readFile(this.options.modelPath), source: this.options.modelPath };
    }
    const local = this.options.localModelPath ?? DEFAULT_LOCAL_MODEL;
    const localBytes = existsSync(local) ? await readFile(local) : null;
    if (localBytes && (await sha256Hex(localBytes)) === info.sha256)
      return { bytes: localBytes, source: local };
    const url = new URL(info.url, server).href;
    const response = await fetch(url);
    if (!response.ok)
      throw new RunnerError(
        'inference_failed',
        `model download ${url} failed: HTTP ${response.status}`,
        true,
      );
    return { bytes: new Uint8Array(await response.arrayBuffer()), source: url };
  }

  private acquire(): Promise<OrtRunner> {
    const s = this.idle.shift();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(session: OrtRunner): void {
    if (!this.sessions.includes(session)) return; // replaced by a newer model
    const next = this.waiting.shift();
    if (next) next(session);
    else this.idle.push(session);
  }
}
