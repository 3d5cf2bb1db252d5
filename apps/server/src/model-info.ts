import { INPUT_SIZE, parseLabels } from '@tabgrid/detector';
import type { ModelInfo } from '@tabgrid/protocol';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const MODEL_FILE = 'yolox_nano.onnx';
export const LABELS_FILE = 'coco-labels.txt';

/**
 * Reads the served model once at start-up and computes the SHA-256 that the
 * server announces to volunteers (they verify the bytes they load against it).
 */
export function readModelInfo(modelDir: string): ModelInfo {
  const modelPath = path.join(modelDir, MODEL_FILE);
  const labelsPath = path.join(modelDir, LABELS_FILE);
  if (!fs.existsSync(modelPath) || !fs.existsSync(labelsPath)) {
    throw new Error(
      `model files not found in ${modelDir}: run \`npm ci\` (with TABGRID_ASSET_MIRROR set to a folder holding models/) or set TABGRID_MODEL_DIR`,
    );
  }
  const bytes = fs.readFileSync(modelPath);
  return {
    url: `/models/${MODEL_FILE}`,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    labels: parseLabels(fs.readFileSync(labelsPath, 'utf8')),
    inputSize: INPUT_SIZE,
  };
}
