/**
 * Ground truth: what an honest volunteer computes for each photo, by the server-side reference
 * (the agent's onnxruntime-node detector, the same decoding as the referee). A result is wrong
 * when it does not agree with it under the verifier's own rule (`agreement.ts`).
 */
import { readFile } from 'node:fs/promises';
import type { Detection } from '@tabgrid/protocol';
import { parseLabels } from '@tabgrid/detector';
import { createNativeDetector } from '@tabgrid/node-runner';
import { agree } from '../../apps/server/src/verification/agreement';
import { labelsPath, modelPath } from '../../scripts/assets';
import type { Photo } from './photos';

/** Reference detections by photo name. */
export async function groundTruth(photos: readonly Photo[]): Promise<Map<string, Detection[]>> {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  const native = await createNativeDetector(modelPath(), labels, { threads: 1 });
  const truth = new Map<string, Detection[]>();
  try {
    for (const p of photos) truth.set(p.name, await native.detect(p.bytes));
  } finally {
    await native.close();
  }
  return truth;
}

export const isWrong = (truth: Map<string, Detection[]>, name: string, detections: readonly Detection[]) =>
  !agree(detections, truth.get(name) ?? []);
