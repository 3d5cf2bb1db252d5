import { INPUT_SIZE, PAD_VALUE } from './constants';

/** Where the image lands inside the square model input. */
export interface LetterboxGeometry {
  /** r = min(size / w, size / h): model-input pixels per original pixel. */
  scale: number;
  /** Width and height of the resized image, placed at the top-left corner. */
  width: number;
  height: number;
}

/**
 * Letterbox geometry exactly as upstream YOLOX computes it:
 * `r = min(416 / w, 416 / h)`, resized size `int(w * r) x int(h * r)`.
 *
 * @example letterboxGeometry(810, 1080) // { scale: 0.3851.., width: 312, height: 416 } (810 * r is exactly 312.0)
 */
export function letterboxGeometry(width: number, height: number, size = INPUT_SIZE): LetterboxGeometry {
  if (!(width > 0 && height > 0)) throw new RangeError(`image size must be positive, got ${width}x${height}`);
  const scale = Math.min(size / width, size / height);
  return {
    scale,
    width: Math.max(1, Math.min(size, Math.floor(width * scale))),
    height: Math.max(1, Math.min(size, Math.floor(height * scale))),
  };
}

/** Interleaved 8-bit pixels, RGB (3 channels) or RGBA (4 channels), row-major. */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** OpenCV's `INTER_RESIZE_COEF_SCALE` (1 << 11): fixed-point weights of its 8-bit bilinear resize. */
const COEF_SCALE = 2048;
/** Half of 1 << 22, added before the final shift (OpenCV's `FixedPtCast<int, uchar, 22>`). */
const ROUND_HALF = 1 << 21;

/**
 * Builds the model input from decoded pixels: bilinear resize (OpenCV
 * INTER_LINEAR sampling: half-pixel centres, edge clamp) into the top-left of a
 * `size x size` square filled with 114, planar **BGR**, raw 0..255 floats.
 * The browser worker and the Node agent both call this, so both paths feed the
 * model the same numbers for the same decoded pixels.
 *
 * Like upstream's `cv2.resize` on uint8 pixels, the result is rounded back to 8 bits with
 * OpenCV's fixed-point arithmetic (`INTER_RESIZE_COEF_BITS` = 11: each tap's weight rounded to
 * 1/2048, the two passes' sum rounded by `FixedPtCast<…, 22>`), not left as unrounded floats: on
 * a mosaic photo that moves the scores about ten times closer to upstream's.
 *
 * @returns a Float32Array of length `3 * size * size` (NCHW, N = 1)
 */
export function letterboxToTensor(
  pixels: Pixels,
  size = INPUT_SIZE,
): { tensor: Float32Array; geometry: LetterboxGeometry } {
  const { data, width: sw, height: sh, channels } = pixels;
  if (data.length < sw * sh * channels) {
    throw new RangeError(`pixel buffer holds ${data.length} bytes, expected ${sw * sh * channels}`);
  }
  const geometry = letterboxGeometry(sw, sh, size);
  const { width: dw, height: dh } = geometry;
  const plane = size * size;
  const tensor = new Float32Array(3 * plane).fill(PAD_VALUE);

  // Precompute horizontal taps once per column.
  const fx = sw / dw;
  const fy = sh / dh;
  const x0s = new Int32Array(dw);
  const x1s = new Int32Array(dw);
  // Weights of the left and right taps, each rounded to 1/2048 (as OpenCV's saturate_cast<short>).
  const ax0s = new Int32Array(dw);
  const ax1s = new Int32Array(dw);
  for (let dx = 0; dx < dw; dx++) {
    let sx = (dx + 0.5) * fx - 0.5;
    if (sx < 0) sx = 0;
    let x0 = Math.floor(sx);
    if (x0 > sw - 1) x0 = sw - 1;
    x0s[dx] = x0 * channels;
    x1s[dx] = Math.min(x0 + 1, sw - 1) * channels;
    const wx = Math.min(sx - x0, 1);
    ax0s[dx] = Math.round((1 - wx) * COEF_SCALE);
    ax1s[dx] = Math.round(wx * COEF_SCALE);
  }

  for (let dy = 0; dy < dh; dy++) {
    let sy = (dy + 0.5) * fy - 0.5;
    if (sy < 0) sy = 0;
    let y0 = Math.floor(sy);
    if (y0 > sh - 1) y0 = sh - 1;
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = Math.min(sy - y0, 1);
    const by0 = Math.round((1 - wy) * COEF_SCALE);
    const by1 = Math.round(wy * COEF_SCALE);
    const row0 = y0 * sw * channels;
    const row1 = y1 * sw * channels;
    const out = dy * size;
    for (let dx = 0; dx < dw; dx++) {
      const a = row0 + x0s[dx]!;
      const b = row0 + x1s[dx]!;
      const c = row1 + x0s[dx]!;
      const d = row1 + x1s[dx]!;
      const ax0 = ax0s[dx]!;
      const ax1 = ax1s[dx]!;
      const o = out + dx;
      // RGB(A) in, planar BGR out. Integer arithmetic throughout: at most 255 × 2049 × 2049 < 2^31.
      for (let ch = 0; ch < 3; ch++) {
        const top = data[a + ch]! * ax0 + data[b + ch]! * ax1;
        const bottom = data[c + ch]! * ax0 + data[d + ch]! * ax1;
        tensor[(2 - ch) * plane + o] = (top * by0 + bottom * by1 + ROUND_HALF) >> 22;
      }
    }
  }
  return { tensor, geometry };
}

/**
 * Builds the model input from pixels that were already resized to the letterbox
 * geometry of the original image (e.g. decoded straight to that size by the
 * browser): copies them into the top-left of a `size x size` square filled with
 * 114, planar **BGR**, raw 0..255 floats. No resampling here.
 *
 * @param original the image size the boxes must refer to (the geometry is computed from it)
 * @throws RangeError when `pixels` is not exactly `letterboxGeometry(original)` sized
 */
export function resizedToTensor(
  pixels: Pixels,
  original: { width: number; height: number },
  size = INPUT_SIZE,
): { tensor: Float32Array; geometry: LetterboxGeometry } {
  const geometry = letterboxGeometry(original.width, original.height, size);
  const { data, width: w, height: h, channels } = pixels;
  if (w !== geometry.width || h !== geometry.height) {
    throw new RangeError(
      `resized pixels are ${w}x${h}, letterbox of ${original.width}x${original.height} is ${geometry.width}x${geometry.height}`,
    );
  }
  if (data.length < w * h * channels) {
    throw new RangeError(`pixel buffer holds ${data.length} bytes, expected ${w * h * channels}`);
  }
  const plane = size * size;
  const tensor = new Float32Array(3 * plane).fill(PAD_VALUE);
  for (let y = 0; y < h; y++) {
    let src = y * w * channels;
    const out = y * size;
    for (let x = 0; x < w; x++, src += channels) {
      const o = out + x;
      // RGB(A) in, planar BGR out.
      tensor[o] = data[src + 2]!;
      tensor[plane + o] = data[src + 1]!;
      tensor[2 * plane + o] = data[src]!;
    }
  }
  return { tensor, geometry };
}
