/**
 * Local benchmark of the inference worker, without the server: used by the
 * benchmark harness and e2e tests through `window.__tabgrid.selfTest(...)`.
 */
import { parseLabels } from '@tabgrid/detector';
import type { Detection } from '@tabgrid/protocol';
import { InferenceClient, type InitInfo } from '../inference/client';

export interface SelfTestOptions {
  imageUrl: string;
  sha256: string;
  /** @defaultValue '/models/yolox_nano.onnx' */
  modelUrl?: string;
  /** @defaultValue '/models/coco-labels.txt' */
  labelsUrl?: string;
  /** @defaultValue 10 */
  runs?: number;
  numThreads?: number;
}

export interface SelfTestReport {
  init: InitInfo;
  detections: Detection[];
  /** Worker-reported total ms (decode + pre + run + post) per run. */
  totalMs: number[];
  /** session.run only, per run. */
  runMs: number[];
  medianTotalMs: number;
  medianRunMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function selfTest(client: InferenceClient, options: SelfTestOptions): Promise<SelfTestReport> {
  const labels = parseLabels(await (await fetch(options.labelsUrl ?? '/models/coco-labels.txt')).text());
  const init = await client.init({
    modelUrl: options.modelUrl ?? '/models/yolox_nano.onnx',
    sha256: options.sha256,
    labels,
    numThreads: options.numThreads,
  });
  const response = await fetch(options.imageUrl);
  const bytes = await response.arrayBuffer();
  const mime = response.headers.get('content-type') ?? 'image/jpeg';
  const totalMs: number[] = [];
  const runMs: number[] = [];
  let detections: Detection[] = [];
  for (let i = 0; i < (options.runs ?? 10); i++) {
    const out = await client.detect(bytes.slice(0), mime);
    totalMs.push(out.timings.totalMs);
    runMs.push(out.timings.inferenceMs);
    detections = out.detections;
  }
  return { init, detections, totalMs, runMs, medianTotalMs: median(totalMs), medianRunMs: median(runMs) };
}
