/**
 * The inference worker: one warm onnxruntime-web session, one inference at a
 * time, pre/post-processing from @tabgrid/detector (the same code the Node
 * agent runs). Exposes exactly one object over Comlink.
 */
import * as Comlink from 'comlink';
import { detect, INPUT_NAME, INPUT_SIZE, OUTPUT_NAME, type ModelRunner } from '@tabgrid/detector';
import type { DetectOutput, InferenceApi, InitInfo, InitOptions } from '../shared/api';
import { InferenceError } from '../shared/errors';
import { decodeImage } from './decodeImage';
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
  return info;
}

async function runDetect(image: ArrayBuffer, mime: string): Promise<DetectOutput> {
  const current = loaded;
  if (!current) throw new InferenceError('not_initialized', 'init() must succeed before detect()');
  const t0 = performance.now();
  const pixels = await decodeImage(image, mime);
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
    const { detections, timings } = await detect(run, pixels, current.labels);
    return {
      detections,
      width: pixels.width,
      height: pixels.height,
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
  detect(image, mime) {
    return serial(() => runDetect(image, mime));
  },
};

Comlink.expose(api);
