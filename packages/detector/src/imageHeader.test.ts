import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sampleImages } from '../../../scripts/assets';
import { readImageSize } from './imageHeader';

const jpeg = (width: number, height: number, orientation?: number) => {
  const img = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 10 } } });
  return (orientation ? img.withMetadata({ orientation }) : img).jpeg().toBuffer();
};

describe('readImageSize', () => {
  it('reads a JPEG size from its SOF', async () => {
    expect(readImageSize(await jpeg(30, 20))).toEqual({ width: 30, height: 20 });
  });

  it('applies the EXIF orientation like sharp autoOrient (5..8 swap the sides)', async () => {
    for (const orientation of [1, 3, 6, 8]) {
      const bytes = await jpeg(30, 20, orientation);
      const oriented = await sharp(bytes).autoOrient().toBuffer({ resolveWithObject: true });
      expect(readImageSize(bytes), `orientation ${orientation}`).toEqual({
        width: oriented.info.width,
        height: oriented.info.height,
      });
    }
  });

  it('reads a PNG size from IHDR', async () => {
    const png = await sharp({ create: { width: 7, height: 5, channels: 4, background: '#000' } })
      .png()
      .toBuffer();
    expect(readImageSize(new Uint8Array(png))).toEqual({ width: 7, height: 5 });
  });

  it('returns null for unknown or truncated data', async () => {
    expect(readImageSize(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(readImageSize((await jpeg(30, 20)).subarray(0, 40))).toBeNull();
  });

  it('agrees with sharp (autoOrient) on every sample photo it can read', async () => {
    for (const image of sampleImages()) {
      const bytes = readFileSync(image.path);
      const size = readImageSize(bytes);
      if (!size) continue; // webp: the worker then decodes at full size
      const { info } = await sharp(bytes).autoOrient().toBuffer({ resolveWithObject: true });
      expect(size, image.name).toEqual({ width: info.width, height: info.height });
    }
  });
});
