/**
 * The native reference: what onnxruntime-node + sharp + the shared pipeline
 * find in a photo, and the matching rule the browser path is held to.
 * References are computed here, in the test process, never hard-coded.
 */
import { readFile } from 'node:fs/promises';
import type { Detection } from '@tabgrid/protocol';
import { iou, parseLabels } from '@tabgrid/detector';
import { createNativeDetector, type NativeDetector } from '@tabgrid/node-runner';
import { labelsPath, modelPath } from '../../scripts/assets';

export interface MatchOptions {
  /** Reference detections below this score need no match. @defaultValue 0.5 */
  minScore?: number;
  /** A candidate matches with the same label and at least this IoU. @defaultValue 0.8 */
  minIoU?: number;
}

export interface Unmatched {
  reference: Detection;
  /** Best IoU of a same-label candidate (0 if none). */
  bestIoU: number;
}

export interface MatchReport {
  /** Reference detections with score >= minScore. */
  checked: number;
  unmatched: Unmatched[];
  /** Over the matched ones: the smallest best-IoU (1 = identical boxes). */
  minIoU: number;
  /** Over the matched ones: the largest |score difference|. */
  maxScoreDiff: number;
}

/** Best same-label IoU of `ref` among `candidates`, with that candidate. */
function bestMatch(ref: Detection, candidates: readonly Detection[]): { iou: number; match?: Detection } {
  let best: { iou: number; match?: Detection } = { iou: 0 };
  for (const c of candidates) {
    if (c.label !== ref.label) continue;
    const value = iou(ref.box, c.box);
    if (value > best.iou) best = { iou: value, match: c };
  }
  return best;
}

/**
 * Every reference detection with score >= minScore must be matched by a
 * candidate with the same label and IoU >= minIoU. Returns the ones that are
 * not (empty = pass).
 */
export function matchDetections(
  reference: readonly Detection[],
  candidate: readonly Detection[],
  options: MatchOptions = {},
): Unmatched[] {
  return compareDetections(reference, candidate, options).unmatched;
}

/** `matchDetections` plus summary figures for a log line. */
export function compareDetections(
  reference: readonly Detection[],
  candidate: readonly Detection[],
  { minScore = 0.5, minIoU = 0.8 }: MatchOptions = {},
): MatchReport {
  const report: MatchReport = { checked: 0, unmatched: [], minIoU: 1, maxScoreDiff: 0 };
  for (const ref of reference) {
    if (ref.score < minScore) continue;
    report.checked++;
    const best = bestMatch(ref, candidate);
    if (best.iou >= minIoU && best.match) {
      report.minIoU = Math.min(report.minIoU, best.iou);
      report.maxScoreDiff = Math.max(report.maxScoreDiff, Math.abs(best.match.score - ref.score));
    } else {
      report.unmatched.push({ reference: ref, bestIoU: best.iou });
    }
  }
  return report;
}

/** One line per image for the closing notes. */
export function summarize(name: string, report: MatchReport, candidateCount: number): string {
  return (
    `${name}: ${report.checked} ref>=0.5, ${candidateCount} browser dets, ` +
    `unmatched ${report.unmatched.length}, min IoU ${report.minIoU.toFixed(4)} ` +
    `(max IoU diff ${(1 - report.minIoU).toFixed(4)}), max score diff ${report.maxScoreDiff.toFixed(4)}`
  );
}

let shared: Promise<NativeDetector> | null = null;

/** The native detector, created once per test worker. */
export function nativeDetector(): Promise<NativeDetector> {
  shared ??= (async () => {
    const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
    return createNativeDetector(modelPath(), labels);
  })();
  return shared;
}

/** Native reference detections for an image file. */
export async function referenceDetections(imagePath: string): Promise<Detection[]> {
  const native = await nativeDetector();
  return native.detect(await readFile(imagePath));
}

/** Releases the shared native session (call in afterAll). */
export async function closeNativeDetector(): Promise<void> {
  const pending = shared;
  shared = null;
  if (pending) await (await pending).close();
}
