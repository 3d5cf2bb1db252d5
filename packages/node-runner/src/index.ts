/**
 * `@tabgrid/node-runner`: used by the agent, the server referee, the tests and the bench (one
 * implementation, so they all compute the same detections; apps never import each other).
 *
 * The Node side of the detector: image decoding with sharp and an
 * onnxruntime-node CPU session. Pre/post-processing is the shared
 * `@tabgrid/detector` code the browser worker runs too.
 */
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { Detection } from '@tabgrid/protocol';
import {
  detect,
  INPUT_NAME,
  INPUT_SIZE,
  NUM_ANCHORS,
  OUTPUT_NAME,
  ROW_SIZE,
  type DetectTimings,
  type ModelRunner,
  type Pixels,
} from '@tabgrid/detector';

/** The image bytes could not be decoded (maps to the `undecodable` task failure). */
export class UndecodableImageError extends Error {
  override readonly name = 'UndecodableImageError';
}

/**
 * Decodes image bytes to interleaved 8-bit RGB, applying EXIF orientation as
 * browsers' createImageBitmap does by default and as the server measures the
 * image (sharp's autoOrient size), so boxes match what the dashboard draws.
 */
export async function decodeImage(bytes: Uint8Array): Promise<Pixels> {
  try {
    const { data, info } = await sharp(bytes)
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      channels: 3,
    };
  } catch (err) {
    throw new UndecodableImageError(err instanceof Error ? err.message : String(err));
  }
}

export interface OrtRunner {
  run: ModelRunner;
  close(): Promise<void>;
}

export interface OrtRunnerOptions {
  /** Intra-op threads; onnxruntime's default (all cores) when unset. */
  threads?: number;
}

/**
 * An onnxruntime-node CPU session for YOLOX-Nano. Calls to `run` are chained,
 * so at most one `session.run` is in flight at a time.
 *
 * @param model a file path or the model bytes
 */
export async function createOrtRunner(
  model: string | Uint8Array,
  options: OrtRunnerOptions = {},
): Promise<OrtRunner> {
  const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'] };
  if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
  if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
    await session.release();
    throw new Error(
      `model has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}], ` +
        `expected '${INPUT_NAME}' and '${OUTPUT_NAME}'`,
    );
  }
  let chain: Promise<unknown> = Promise.resolve();
  const runOnce = async (input: Float32Array): Promise<Float32Array> => {
    const feeds = { [INPUT_NAME]: new ort.Tensor('float32', input, [1, 3, INPUT_SIZE, INPUT_SIZE]) };
    const results = await session.run(feeds);
    const output = results[OUTPUT_NAME];
    if (!output || output.type !== 'float32' || output.data.length !== NUM_ANCHORS * ROW_SIZE) {
      throw new Error(`unexpected model output ${output?.type} [${output?.dims.join(', ')}]`);
    }
    return output.data as Float32Array;
  };
  return {
    run(input) {
      const next = chain.then(() => runOnce(input));
      chain = next.catch(() => undefined);
      return next;
    },
    async close() {
      await chain;
      await session.release();
    },
  };
}

export interface NativeDetectorOptions extends OrtRunnerOptions {
  /**
   * Lowest score kept. The referee passes REPORTED_SCORE_FLOOR, as volunteers report (rule V2).
   * @defaultValue DEFAULT_SCORE_THRESHOLD (0.25), what the product shows
   */
  scoreThreshold?: number;
}

export interface NativeDetector {
  /** Decode + detect; labelled detections in original-image pixels. */
  detect(imageBytes: Uint8Array): Promise<Detection[]>;
  /** Same, with the width/height of the decoded image and the stage timings. */
  detectTimed(
    imageBytes: Uint8Array,
  ): Promise<{ detections: Detection[]; timings: DetectTimings; width: number; height: number }>;
  close(): Promise<void>;
}

/**
 * The reference detector: onnxruntime-node + sharp + the shared pipeline.
 * Tests compute the expected detections for an image with it.
 *
 * @example
 * const native = await createNativeDetector(modelPath(), labels);
 * const detections = await native.detect(await readFile('bus.jpg'));
 * await native.close();
 */
export async function createNativeDetector(
  model: string | Uint8Array,
  labels: readonly string[],
  options: NativeDetectorOptions = {},
): Promise<NativeDetector> {
  const runner = await createOrtRunner(model, options);
  const decodeOptions =
    options.scoreThreshold === undefined ? {} : { scoreThreshold: options.scoreThreshold };
  const detectTimed = async (imageBytes: Uint8Array) => {
    const pixels = await decodeImage(imageBytes);
    const { detections, timings } = await detect(runner.run, pixels, labels, decodeOptions);
    return { detections, timings, width: pixels.width, height: pixels.height };
  };
  return {
    detectTimed,
    detect: async (imageBytes) => (await detectTimed(imageBytes)).detections,
    close: () => runner.close(),
  };
}
