import type { Pixels } from '@tabgrid/detector';
import { InferenceError } from '../shared/errors';

let canvas: OffscreenCanvas | null = null;
let context: OffscreenCanvasRenderingContext2D | null = null;

/**
 * Encoded image bytes -> RGBA pixels, via createImageBitmap and an
 * OffscreenCanvas (reused between calls).
 *
 * @throws InferenceError `undecodable` when the browser cannot decode the bytes
 */
export async function decodeImage(bytes: ArrayBuffer, mime: string): Promise<Pixels> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: mime }));
  } catch (err) {
    throw new InferenceError(
      'undecodable',
      `cannot decode ${mime || 'image'}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    const { width, height } = bitmap;
    if (width === 0 || height === 0) throw new InferenceError('undecodable', 'image has no pixels');
    if (!canvas || !context) {
      canvas = new OffscreenCanvas(width, height);
      context = canvas.getContext('2d', { willReadFrequently: true });
      if (!context) throw new InferenceError('inference_failed', 'OffscreenCanvas 2D context unavailable');
    } else if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    context.clearRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0);
    const { data } = context.getImageData(0, 0, width, height);
    return { data, width, height, channels: 4 };
  } finally {
    bitmap.close();
  }
}
