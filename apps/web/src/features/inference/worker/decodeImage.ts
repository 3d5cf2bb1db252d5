import { INPUT_SIZE, type Pixels } from '@tabgrid/detector';
import { InferenceError } from '../shared/errors';

let canvas: OffscreenCanvas | null = null;
let context: OffscreenCanvasRenderingContext2D | null = null;

function surface(width: number, height: number): OffscreenCanvasRenderingContext2D {
  if (!canvas || !context) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new InferenceError('inference_failed', 'OffscreenCanvas 2D context unavailable');
  } else if (canvas.width < width || canvas.height < height) {
    canvas.width = Math.max(canvas.width, width);
    canvas.height = Math.max(canvas.height, height);
  }
  return context;
}

async function bitmapOf(blob: Blob, options?: ImageBitmapOptions): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, options);
  } catch (err) {
    throw new InferenceError(
      'undecodable',
      `cannot decode ${blob.type || 'image'}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function readPixels(bitmap: ImageBitmap): Pixels {
  const { width, height } = bitmap;
  if (width === 0 || height === 0) throw new InferenceError('undecodable', 'image has no pixels');
  const ctx = surface(width, height);
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, width, height);
  return { data, width, height, channels: 4 };
}

/**
 * Encoded image -> RGBA pixels at full size, via createImageBitmap and an
 * OffscreenCanvas (reused between calls).
 *
 * @throws InferenceError `undecodable` when the browser cannot decode the bytes
 */
export async function decodeImage(image: Blob): Promise<Pixels> {
  const bitmap = await bitmapOf(image);
  try {
    return readPixels(bitmap);
  } finally {
    bitmap.close();
  }
}

/**
 * Encoded image -> RGBA pixels decoded straight to `size` (the letterbox
 * size, at most 416 x 416) by the browser's decoder (`resizeQuality: 'low'`),
 * drawn into a canvas at least 416 wide that is reused between calls.
 *
 * @returns null when the browser produced another size than asked (the caller
 *   then decodes at full size)
 * @throws InferenceError `undecodable` when the browser cannot decode the bytes
 */
export async function decodeImageResized(
  image: Blob,
  size: { width: number; height: number },
): Promise<Pixels | null> {
  const bitmap = await bitmapOf(image, {
    resizeWidth: size.width,
    resizeHeight: size.height,
    resizeQuality: 'low',
  });
  try {
    if (bitmap.width !== size.width || bitmap.height !== size.height) return null;
    surface(INPUT_SIZE, INPUT_SIZE);
    return readPixels(bitmap);
  } finally {
    bitmap.close();
  }
}
