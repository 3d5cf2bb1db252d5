/**
 * The inference worker: one warm onnxruntime-web session, one inference at a
 * time (the page runs a pool of these for parallelism), pre/post-processing from @tabgrid/detector (the same code the Node
 * agent runs). Exposes exactly one object over Comlink.
 */
import * as Comlink from 'comlink';
import {
  detect,
  detectResized,
  INPUT_NAME,
  INPUT_SIZE,
  letterboxGeometry,
  OUTPUT_NAME,
  readImageSize,
  REPORTED_SCORE_FLOOR,
  type ModelRunner,
  type Pixels,
} from '@tabgrid/detector';
import type { DetectOutput, InferenceApi, InitInfo, InitOptions } from '../shared/api';
import { InferenceError } from '../shared/errors';
import { decodeImage, decodeImageResized } from './decodeImage';
import { warmUpImage } from './warmUp';
import { loadModel } from './modelLoader';
import { chooseThreads, configureRuntime, createSession, ort } from './runtime';

interface Loaded {
  sha256: string;
  labels: string[];
  session: ort.InferenceSession;
  info: InitInfo;
}

let loaded: Loaded | null = null;
let loading: Promise<InitInfo> | null = null;
/** Serialises every session.run (concurrent runs on one ORT session throw). */
let chain: Promise<unknown> = Promise.resolve();

function serial<T>(fn: () => Promise<T>): Promise<T> {
  const next = chain.then(fn, fn);
  chain = next.catch(() => undefined);
  return next;
}

async function doInit(options: InitOptions): Promise<InitInfo> {
  const sha256 = options.sha256.toLowerCase();
  if (loaded && loaded.sha256 === sha256) {
    loaded.labels = options.labels;
    return { ...loaded.info, reused: true };
  }
  const t0 = performance.now();
  const numThreads = configureRuntime(chooseThreads(options.numThreads));
  const model = await loadModel(options.modelUrl, sha256);
  let session: ort.InferenceSession;
  try {
    session = await createSession(model.bytes);
  } catch (err) {
    throw new InferenceError(
      'inference_failed',
      `session creation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
    await session.release();
    throw new InferenceError(
      'model_mismatch',
      `model has inputs ${session.inputNames.join(',')} / outputs ${session.outputNames.join(',')}`,
    );
  }
  const previous = loaded;
  const info: InitInfo = {
    backend: 'wasm',
    numThreads,
    simd: true, // onnxruntime-web >= 1.19 ships only the SIMD build; session creation fails without SIMD
    crossOriginIsolated: self.crossOriginIsolated,
    loadMs: performance.now() - t0,
    modelSource: model.source,
    reused: false,
  };
  loaded = { sha256, labels: options.labels, session, info };
  if (previous) await serial(() => previous.session.release());
  try {
    const warm = await warmUpImage();
    await serial(() => runDetect(warm.bytes, 'image/jpeg', warm.width, warm.height));
  } catch (err) {
    console.warn('inference warm-up failed (the first task will warm up instead)', err);
  }
  return info;
}

/** A positive integer size, or null. */
function validSize(width?: number, height?: number): { width: number; height: number } | null {
  return width !== undefined &&
    height !== undefined &&
    Number.isInteger(width) &&
    Number.isInteger(height) &&
    width > 0 &&
    height > 0
    ? { width, height }
    : null;
}

/**
 * Decodes straight to the letterbox size when the task's (EXIF-oriented) size is known and the
 * file's header agrees with it; otherwise, or when the browser decodes to another size, at full size.
 */
async function decodeFor(
  image: ArrayBuffer,
  mime: string,
  original: { width: number; height: number } | null,
): Promise<{ pixels: Pixels; original: { width: number; height: number } | null }> {
  const blob = new Blob([image], { type: mime });
  const header = original ? readImageSize(image) : null;
  if (original && header && header.width === original.width && header.height === original.height) {
    const geometry = letterboxGeometry(original.width, original.height);
    const resized = await decodeImageResized(blob, geometry);
    if (resized) return { pixels: resized, original };
  }
  return { pixels: await decodeImage(blob), original: null };
}

async function runDetect(
  image: ArrayBuffer,
  mime: string,
  width?: number,
  height?: number,
): Promise<DetectOutput> {
  const current = loaded;
  if (!current) throw new InferenceError('not_initialized', 'init() must succeed before detect()');
  const t0 = performance.now();
  const decoded = await decodeFor(image, mime, validSize(width, height));
  const { pixels } = decoded;
  const decodeMs = performance.now() - t0;
  const run: ModelRunner = async (input) => {
    const tensor = new ort.Tensor('float32', input, [1, 3, INPUT_SIZE, INPUT_SIZE]);
    const outputs = await current.session.run({ [INPUT_NAME]: tensor });
    const out = outputs[OUTPUT_NAME];
    if (!out) throw new InferenceError('inference_failed', `model produced no "${OUTPUT_NAME}" output`);
    const data = out.data;
    tensor.dispose();
    if (!(data instanceof Float32Array))
      throw new InferenceError('inference_failed', 'model output is not float32');
    return data;
  };
  try {
    const size = decoded.original ?? pixels;
    // Down to the reported floor, not the shown 0.25: verification's hysteresis (PROTOCOL.md V2).
    // Pages draw and list only what they show (>= 0.5).
    const floor = { scoreThreshold: REPORTED_SCORE_FLOOR };
    const { detections, timings } = decoded.original
      ? await detectResized(run, pixels, decoded.original, current.labels, floor)
      : await detect(run, pixels, current.labels, floor);
    return {
      detections,
      width: size.width,
      height: size.height,
      timings: { decodeMs, ...timings, totalMs: performance.now() - t0 },
    };
  } catch (err) {
    if (err instanceof InferenceError) throw err;
    throw new InferenceError('inference_failed', err instanceof Error ? err.message : String(err));
  }
}

const api: InferenceApi = {
  init(options) {
    // Concurrent init calls share one load.
    const attempt = (loading ?? Promise.resolve()).catch(() => undefined).then(() => doInit(options));
    loading = attempt;
    return attempt.finally(() => {
      if (loading === attempt) loading = null;
    });
  },
  detect(image, mime, width, height) {
    return serial(() => runDetect(image, mime, width, height));
  },
};

Comlink.expose(api);
