/**
 * Where tests, benchmarks and the agent find the model, the labels and the
 * sample photos. The model files are installed into `public/models/` by
 * `scripts/install-assets.mjs`; the photos are outside data and are read in place
 * from `$TABGRID_ASSET_MIRROR/images` (default `../shared/images`).
 * Every function throws a message that says how to fix a missing asset, so a
 * test that needs them fails loudly instead of skipping.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Folder the install script fills (git-ignored). */
export const MODELS_DIR = path.join(REPO_ROOT, 'public', 'models');
export const MODEL_FILE = 'yolox_nano.onnx';
export const LABELS_FILE = 'coco-labels.txt';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);

const INSTALL_HINT =
  'run `TABGRID_ASSET_MIRROR=../shared node scripts/install-assets.mjs` (or `npm ci` with that variable set)';

function mustExist(file: string, hint: string): string {
  if (!existsSync(file)) throw new Error(`${file} does not exist: ${hint}`);
  return file;
}

/** Folder like `../shared`: `$TABGRID_ASSET_MIRROR`, resolved against the repo root. */
export function mirrorDir(): string {
  return path.resolve(REPO_ROOT, process.env.TABGRID_ASSET_MIRROR?.trim() || '../shared');
}

/** `public/models/yolox_nano.onnx`; throws if it is not installed. */
export function modelPath(): string {
  return mustExist(path.join(MODELS_DIR, MODEL_FILE), INSTALL_HINT);
}

/** `public/models/coco-labels.txt`; throws if it is not installed. */
export function labelsPath(): string {
  return mustExist(path.join(MODELS_DIR, LABELS_FILE), INSTALL_HINT);
}

/** `$TABGRID_ASSET_MIRROR/images` (default `../shared/images`); throws if it does not exist. */
export function imagesDir(): string {
  return mustExist(
    path.join(mirrorDir(), 'images'),
    'set TABGRID_ASSET_MIRROR to a folder with images/ (default ../shared relative to the repo root)',
  );
}

export interface SampleImage {
  /** File name, e.g. `bus.jpg`. */
  name: string;
  path: string;
  bytes: number;
}

/**
 * Every sample photo (jpg, jpeg, png, webp) in `imagesDir()`, sorted by name.
 * Throws if there are none.
 *
 * @example sampleImages().find((i) => i.name === 'bus.jpg')
 */
export function sampleImages(): SampleImage[] {
  const dir = imagesDir();
  const images = readdirSync(dir)
    .filter((name) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase()))
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      return { name, path: file, bytes: statSync(file).size };
    });
  if (images.length === 0) throw new Error(`${dir} holds no .jpg/.jpeg/.png/.webp sample images`);
  return images;
}

/** Path of one named sample image; throws if it is not there. */
export function sampleImage(name: string): string {
  return mustExist(path.join(imagesDir(), name), `the sample image ${name} is missing`);
}
