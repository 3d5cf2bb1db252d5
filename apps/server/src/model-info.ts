import { INPUT_SIZE, parseLabels } from '@tabgrid/detector';
import type { ModelInfo } from '@tabgrid/protocol';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const MODEL_FILE = 'yolox_nano.onnx';
export const LABELS_FILE = 'coco-labels.txt';

/** What the static routes need to serve the model under its content-addressed URL. */
export interface ServedModel {
  dir: string;
  file: string;
  sha256: string;
}

/**
 * Content-addressed model URL, e.g. `/models/sha256/<hex>/yolox_nano.onnx`: announced to
 * volunteers in `hello` and cached for a year, since another model gets another URL.
 */
export const modelUrl = (sha256: string, file: string) => `/models/sha256/${sha256}/${file}`;

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
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    url: modelUrl(sha256, MODEL_FILE),
    sha256,
    bytes: bytes.length,
    labels: parseLabels(fs.readFileSync(labelsPath, 'utf8')),
    inputSize: INPUT_SIZE,
  };
}
