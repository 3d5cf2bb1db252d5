/**
 * Ground truth: what an honest volunteer computes for each photo, by the server-side reference
 * (the agent's onnxruntime-node detector, the same decoding as the referee, down to the reported
 * floor). A published result is wrong when it does not agree with it under the verifier's own rule
 * (`agreement.ts`), but for a true detection within 0.02 of the shown threshold that it leaves out:
 * a replicated result publishes the mean of two honest scores, and drops one whose mean falls
 * just under 0.25 (PROTOCOL.md V8).
 */
import { readFile } from 'node:fs/promises';
import type { Detection } from '@tabgrid/protocol';
import { parseLabels, REPORTED_SCORE_FLOOR } from '@tabgrid/detector';
import { createNativeDetector } from '@tabgrid/node-runner';
import { DEFAULT_AGREEMENT, disagreements } from '../../apps/server/src/verification/agreement';
import { labelsPath, modelPath } from '../../scripts/assets';
import type { Photo } from './photos';

/** Reference detections by photo name. */
export async function groundTruth(photos: readonly Photo[]): Promise<Map<string, Detection[]>> {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  const native = await createNativeDetector(modelPath(), labels, {
    threads: 1,
    scoreThreshold: REPORTED_SCORE_FLOOR,
  });
  const truth = new Map<string, Detection[]>();
  try {
    for (const p of photos) truth.set(p.name, await native.detect(p.bytes));
  } finally {
    await native.close();
  }
  return truth;
}

/** Margin over the shown threshold within which a true detection may be left out (the pair's mean). */
const BORDERLINE = 0.02;

export const isWrong = (truth: Map<string, Detection[]>, name: string, detections: readonly Detection[]) =>
  disagreements(detections, truth.get(name) ?? []).some(
    (w) => w.side === 'a' || w.detection.score >= DEFAULT_AGREEMENT.shownScore + BORDERLINE,
  );
