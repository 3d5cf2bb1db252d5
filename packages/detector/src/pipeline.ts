import type { Detection } from '@tabgrid/protocol';
import { decodeYolox, type DecodeOptions } from './decode';
import { letterboxToTensor, resizedToTensor, type LetterboxGeometry, type Pixels } from './letterbox';
import type { Scored } from './nms';

/** Runs the model on one `[1, 3, 416, 416]` input; returns the raw `[1, 3549, 85]` output. */
export type ModelRunner = (input: Float32Array) => Promise<Float32Array>;

export interface DetectTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Names the classes and rounds numbers for the wire (boxes to 0.01 px, scores to 1e-4). */
export function toDetections(items: readonly Scored[], labels: readonly string[]): Detection[] {
  return items.map(({ classId, score, box }) => ({
    label: labels[classId] ?? `class_${classId}`,
    score: round(score, 4),
    box: [round(box[0], 2), round(box[1], 2), round(box[2], 2), round(box[3], 2)],
  }));
}

/**
 * The whole detector: letterbox -> model -> decode + NMS -> labelled detections
 * in original-image pixels. Shared by the browser worker and the Node agent;
 * only `run` differs (onnxruntime-web vs onnxruntime-node).
 */
export async function detect(
  run: ModelRunner,
  pixels: Pixels,
  labels: readonly string[],
  options: Pick<DecodeOptions, 'scoreThreshold' | 'iouThreshold'> = {},
): Promise<{ detections: Detection[]; timings: DetectTimings }> {
  return runPipeline(run, () => letterboxToTensor(pixels), pixels, labels, options);
}

/**
 * Same as `detect` for pixels already resized to `letterboxGeometry(original)`
 * (the browser decodes straight to that size): no resampling, and boxes come
 * back in the ORIGINAL image's pixels.
 *
 * @throws RangeError when `resized` does not have the letterbox size of `original`
 */
export async function detectResized(
  run: ModelRunner,
  resized: Pixels,
  original: { width: number; height: number },
  labels: readonly string[],
  options: Pick<DecodeOptions, 'scoreThreshold' | 'iouThreshold'> = {},
): Promise<{ detections: Detection[]; timings: DetectTimings }> {
  return runPipeline(run, () => resizedToTensor(resized, original), original, labels, options);
}

async function runPipeline(
  run: ModelRunner,
  prepare: () => { tensor: Float32Array; geometry: LetterboxGeometry },
  original: { width: number; height: number },
  labels: readonly string[],
  options: Pick<DecodeOptions, 'scoreThreshold' | 'iouThreshold'>,
): Promise<{ detections: Detection[]; timings: DetectTimings }> {
  const t0 = performance.now();
  const { tensor, geometry } = prepare();
  const t1 = performance.now();
  const output = await run(tensor);
  const t2 = performance.now();
  const scored = decodeYolox(output, {
    ...options,
    scale: geometry.scale,
    imageWidth: original.width,
    imageHeight: original.height,
  });
  const detections = toDetections(scored, labels);
  const t3 = performance.now();
  return { detections, timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2 } };
}
