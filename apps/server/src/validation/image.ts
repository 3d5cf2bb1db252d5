import { TabgridError, formatMegapixels } from '@tabgrid/protocol';
import sharp, { type Metadata } from 'sharp';

/** Formats a volunteer's browser can decode with createImageBitmap, and their MIME types. */
const ACCEPTED_FORMATS: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

export interface ValidImage {
  mime: string;
  /** Displayed size (after EXIF orientation). */
  width: number;
  height: number;
}

// Uploads are validated from temporary files that are then linked or removed: libvips must not
// keep them open in its cache (their disk space would only come back later).
sharp.cache({ files: 0 });

/**
 * Proves that some bytes (or a file, by path) are a whole, decodable image of an accepted format
 * and a sane size, using libvips (sharp) rather than hand-written parsing:
 * the header is read first (format and pixel count, so a decompression bomb is
 * refused before anything is decoded), then the image is decoded in full with
 * `failOn: 'warning'`, so truncated and corrupt files are refused too.
 *
 * @throws TabgridError `empty_file`, `unsupported_format`, `image_too_large`, `corrupt_image`
 */
export async function validateImage(bytes: Buffer | string, maxPixels: number): Promise<ValidImage> {
  if (typeof bytes !== 'string' && bytes.length === 0)
    throw new TabgridError('empty_file', 'the file is empty', 400);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    if (/unsupported image format/i.test(message)) {
      throw new TabgridError('unsupported_format', 'not an image (accepted: JPEG, PNG, WebP)', 415);
    }
    throw new TabgridError('corrupt_image', 'the image header is corrupt', 400);
  }
  const mime = meta.format ? ACCEPTED_FORMATS[meta.format] : undefined;
  if (!mime) {
    throw new TabgridError(
      'unsupported_format',
      `${meta.format ?? 'this'} images are not accepted (JPEG, PNG, WebP)`,
      415,
    );
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new TabgridError('corrupt_image', 'the image has no size', 400);
  if (width * height > maxPixels) {
    throw new TabgridError(
      'image_too_large',
      `the photo is ${formatMegapixels(width * height)} megapixels (${width} × ${height}); the limit is ${formatMegapixels(maxPixels)}`,
      413,
    );
  }
  try {
    // failOn 'warning' (sharp's default, which the agent's decoder uses too): libjpeg reports damaged
    // entropy-coded data only as a warning, and such files are refused by volunteers as undecodable.
    await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning' })
      .resize(16, 16, { fit: 'fill' })
      .raw()
      .toBuffer();
  } catch {
    throw new TabgridError('corrupt_image', 'the image is truncated or corrupt and cannot be decoded', 400);
  }
  return {
    mime,
    width: meta.autoOrient?.width ?? width,
    height: meta.autoOrient?.height ?? height,
  };
}
