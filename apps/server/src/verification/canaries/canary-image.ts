import { createHash } from 'node:crypto';
import sharp from 'sharp';

/** How a canary's image is made from a real one. */
export type CanaryTransform =
  | { kind: 'flip' }
  /** Keeps `fraction` of each side, at offset (ox, oy) in [0, 1) of the room left. */
  | { kind: 'crop'; fraction: number; ox: number; oy: number }
  /** Scales both sides by `factor` (< 1: never past the upload's pixel limit). */
  | { kind: 'rescale'; factor: number };

export interface CanaryImage {
  bytes: Buffer;
  width: number;
  height: number;
  mime: string;
  sha256: string;
}

/** A random transform: a mirror, a crop keeping 70–90 % of each side, or a rescale to 60–90 %. */
export function randomTransform(random: () => number = Math.random): CanaryTransform {
  const pick = random();
  if (pick < 1 / 3) return { kind: 'flip' };
  if (pick < 2 / 3) return { kind: 'crop', fraction: 0.7 + 0.2 * random(), ox: random(), oy: random() };
  return { kind: 'rescale', factor: 0.6 + 0.3 * random() };
}

/**
 * A transformed copy of an uploaded image, encoded in the same format as the original (so that
 * its type and size look like an upload's), EXIF orientation applied (its width and height are
 * what a volunteer decodes, as for uploads).
 */
export async function makeCanaryImage(
  source: Uint8Array,
  mime: string,
  transform: CanaryTransform,
): Promise<CanaryImage> {
  const oriented = await sharp(source).autoOrient().toBuffer({ resolveWithObject: true });
  const { width: w, height: h } = oriented.info;
  let img = sharp(oriented.data);
  if (transform.kind === 'flip') img = img.flop();
  if (transform.kind === 'crop') {
    const cw = Math.max(16, Math.round(w * transform.fraction));
    const ch = Math.max(16, Math.round(h * transform.fraction));
    img = img.extract({
      left: Math.floor((w - Math.min(w, cw)) * transform.ox),
      top: Math.floor((h - Math.min(h, ch)) * transform.oy),
      width: Math.min(w, cw),
      height: Math.min(h, ch),
    });
  }
  if (transform.kind === 'rescale') {
    img = img.resize(
      Math.max(16, Math.round(w * transform.factor)),
      Math.max(16, Math.round(h * transform.factor)),
      {
        fit: 'fill',
      },
    );
  }
  const encoded =
    mime === 'image/png'
      ? img.png()
      : mime === 'image/webp'
        ? img.webp({ quality: 90 })
        : img.jpeg({ quality: 90 });
  const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
  return {
    bytes: data,
    width: info.width,
    height: info.height,
    mime,
    sha256: createHash('sha256').update(data).digest('hex'),
  };
}
