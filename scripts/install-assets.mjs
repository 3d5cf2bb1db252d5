#!/usr/bin/env node
/**
 * Installs the runtime assets the app serves from its own origin (runs as the
 * `postinstall` step of `npm ci`):
 *
 * - `public/models/yolox_nano.onnx` and `public/models/coco-labels.txt`, copied
 *   from `$TABGRID_ASSET_MIRROR/models/` when that variable is set (a folder laid
 *   out like `../shared`), otherwise downloaded from upstream (the model) or
 *   written from the manifest's inline copy (the 80 COCO class names);
 * - `public/ort/<version>/`: onnxruntime-web's WASM runtime files from node_modules, so the
 *   browser loads the runtime pinned to the installed version (the folder name makes the
 *   URLs versioned, so the server can let browsers cache them for a year);
 * - `.br` and `.gz` copies of the files listed under `precompress` in the manifest (the
 *   runtime the volunteer page loads, and the model), which the server sends with
 *   `Content-Encoding` to clients that accept it.
 *
 * Every model file is checked against the SHA-256 list in
 * `scripts/assets-manifest.json`; a file that is already in place with an
 * accepted hash is left alone, so a second run is a no-op. On any failure the
 * script exits with status 1 and says what to do.
 *
 * Environment:
 * - `TABGRID_ASSET_MIRROR`: folder with `models/` (relative paths resolve against the repo root).
 * - `TABGRID_SKIP_ASSETS=1`: do nothing (for installs that never serve or run the model).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST_PATH = path.join(ROOT, 'scripts', 'assets-manifest.json');
const MODELS_DEST = path.join(ROOT, 'public', 'models');
const ORT_VERSION = JSON.parse(
  await readFile(path.join(ROOT, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8').catch(
    () => '{}',
  ),
).version;
const ORT_DEST = path.join(ROOT, 'public', 'ort', ORT_VERSION ?? 'unknown');
const DOWNLOAD_TIMEOUT_MS = 120_000;

const MIRROR_HINT =
  'Set TABGRID_ASSET_MIRROR to a folder that holds models/yolox_nano.onnx and models/coco-labels.txt ' +
  '(e.g. TABGRID_ASSET_MIRROR=../shared) and run `node scripts/install-assets.mjs` again.';

class AssetError extends Error {}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const mb = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);

async function readIfExists(file) {
  try {
    return await readFile(file);
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes `bytes` to `dest` atomically (temp file + rename). */
async function writeAtomic(dest, bytes) {
  const tmp = `${dest}.partial-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, dest);
}

async function download(url) {
  let response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), redirect: 'follow' });
  } catch (err) {
    const cause = err.cause?.code ?? err.cause?.message ?? err.message;
    throw new AssetError(`download of ${url} failed (${cause}). ${MIRROR_HINT}`);
  }
  if (!response.ok) {
    throw new AssetError(`download of ${url} failed: HTTP ${response.status}. ${MIRROR_HINT}`);
  }
  return Buffer.from(await response.arrayBuffer());
}

/** Where the bytes for one model file come from when it is not already in place. */
async function fetchModelFile(name, spec, mirror) {
  if (mirror) {
    const src = path.join(mirror, 'models', name);
    const bytes = await readIfExists(src);
    if (!bytes)
      throw new AssetError(`${src} does not exist (TABGRID_ASSET_MIRROR=${mirror}). ${MIRROR_HINT}`);
    return { bytes, source: `copied from ${src}` };
  }
  if (spec.url) return { bytes: await download(spec.url), source: `downloaded from ${spec.url}` };
  if (spec.inline)
    return { bytes: Buffer.from(spec.inline.join('\n') + '\n'), source: 'written from manifest' };
  throw new AssetError(`${name} has no download source. ${MIRROR_HINT}`);
}

async function installModelFile(name, spec, mirror) {
  const dest = path.join(MODELS_DEST, name);
  const accepted = spec.sha256;
  const existing = await readIfExists(dest);
  if (existing && accepted.includes(sha256(existing))) {
    return `${path.relative(ROOT, dest)}: ok, already present (${mb(existing.length)}, sha256 verified)`;
  }
  const { bytes, source } = await fetchModelFile(name, spec, mirror);
  const hash = sha256(bytes);
  if (!accepted.includes(hash)) {
    throw new AssetError(
      `${name} ${source} has sha256 ${hash}, which scripts/assets-manifest.json does not accept ` +
        `(expected ${accepted.join(' or ')}). ${MIRROR_HINT}`,
    );
  }
  await writeAtomic(dest, bytes);
  return `${path.relative(ROOT, dest)}: ${source} (${mb(bytes.length)}, sha256 verified)`;
}

/** Copies one onnxruntime-web runtime file unless an identical copy is already there. */
async function installOrtFile(fromDir, name) {
  const src = path.join(fromDir, name);
  const dest = path.join(ORT_DEST, name);
  const bytes = await readIfExists(src);
  if (!bytes) {
    throw new AssetError(
      `${path.relative(ROOT, src)} is missing: is onnxruntime-web installed? Run \`npm ci\`.`,
    );
  }
  const existing = await readIfExists(dest);
  if (existing && existing.length === bytes.length && sha256(existing) === sha256(bytes)) {
    return `${path.relative(ROOT, dest)}: ok, already present (${mb(bytes.length)})`;
  }
  await copyFile(src, `${dest}.partial-${process.pid}`);
  await rename(`${dest}.partial-${process.pid}`, dest);
  return `${path.relative(ROOT, dest)}: copied from ${path.relative(ROOT, src)} (${mb(bytes.length)})`;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * Writes `file.br` (Brotli, quality 11) and `file.gz` (gzip -9) beside `file`, unless both
 * are newer than it already. Brotli 11 takes about 30 s for the 14 MB runtime, once per install;
 * it sends 16.5 % of the bytes (quality 9: 18.9 %, gzip: 25.9 %).
 */
async function precompress(file) {
  const source = await stat(file);
  const fresh = async (ext) =>
    ((await stat(`${file}${ext}`).catch(() => null))?.mtimeMs ?? 0) >= source.mtimeMs;
  if ((await fresh('.br')) && (await fresh('.gz')))
    return `${path.relative(ROOT, file)}: ok, already compressed`;
  const bytes = await readFile(file);
  const [br, gz] = await Promise.all([
    brotli(bytes, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
    gzip(bytes, { level: 9 }),
  ]);
  await Promise.all([writeAtomic(`${file}.br`, br), writeAtomic(`${file}.gz`, gz)]);
  return `${path.relative(ROOT, file)}: compressed (br ${mb(br.length)}, gzip ${mb(gz.length)} of ${mb(bytes.length)})`;
}

async function main() {
  if (process.env.TABGRID_SKIP_ASSETS === '1') {
    console.log('assets: skipped (TABGRID_SKIP_ASSETS=1)');
    return 0;
  }
  const manifest = JSON.parse(await readFile(MANIFEST_PATH, 'utf8'));
  const mirrorVar = process.env.TABGRID_ASSET_MIRROR?.trim();
  const mirror = mirrorVar ? path.resolve(ROOT, mirrorVar) : null;
  if (mirror) {
    const info = await stat(mirror).catch(() => null);
    if (!info?.isDirectory()) {
      console.error(`assets: TABGRID_ASSET_MIRROR=${mirrorVar} is not a folder (resolved to ${mirror}).`);
      return 1;
    }
  }

  await mkdir(MODELS_DEST, { recursive: true });
  await mkdir(ORT_DEST, { recursive: true });

  const jobs = [
    ...Object.entries(manifest.models).map(
      ([name, spec]) =>
        () =>
          installModelFile(name, spec, mirror),
    ),
    ...manifest.ort.files.map((name) => () => installOrtFile(path.join(ROOT, manifest.ort.from), name)),
  ];
  let failures = 0;
  const report = async (job) => {
    try {
      console.log(`assets: ${await job()}`);
    } catch (err) {
      failures++;
      console.error(`assets: ERROR ${err instanceof AssetError ? err.message : (err.stack ?? err)}`);
    }
  };
  for (const job of jobs) await report(job);
  if (failures === 0) {
    // In parallel: zlib runs on libuv's thread pool.
    const destOf = (name) => path.join(name in manifest.models ? MODELS_DEST : ORT_DEST, name);
    await Promise.all(manifest.precompress.map((name) => report(() => precompress(destOf(name)))));
  }
  // Leave no half-written temp files behind after a failure.
  if (failures > 0) {
    for (const dir of [MODELS_DEST, ORT_DEST]) {
      for (const name of [...Object.keys(manifest.models), ...manifest.ort.files]) {
        await rm(path.join(dir, `${name}.partial-${process.pid}`), { force: true });
      }
    }
    console.error(
      `assets: ${failures} file(s) failed; the app cannot run inference until they are installed.`,
    );
    return 1;
  }
  return 0;
}

process.exitCode = await main();
