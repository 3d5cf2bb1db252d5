/**
 * The suite's photos: the sample images, varied at run time (crops, rescales, mirror images,
 * re-encodes as JPEG at several qualities and as PNG), so nearly every task is a distinct image
 * and a liar cannot answer from a table of known results.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { sampleImages } from '../../scripts/assets';
import { seeded } from './lies';

export interface Photo {
  name: string;
  mime: 'image/jpeg' | 'image/png';
  bytes: Uint8Array;
}

interface Base {
  name: string;
  bytes: Buffer;
  width: number;
  height: number;
}
let bases: Promise<Base[]> | null = null;

const loadBases = () =>
  Promise.all(
    sampleImages().map(async (s): Promise<Base> => {
      const bytes = await readFile(s.path);
      const meta = await sharp(bytes).autoOrient().metadata();
      return { name: s.name.replace(/\.\w+$/, ''), bytes, width: meta.width, height: meta.height };
    }),
  );

/** Photos `from` .. `from + count - 1` of an endless varied sequence (each deterministic for `seed`). */
export async function variedPhotos(from: number, count: number, seed = 42): Promise<Photo[]> {
  bases ??= loadBases();
  const all = await bases;
  const photos: Photo[] = [];
  for (let i = from; i < from + count; i++) {
    const random = seeded(seed * 100_003 + i);
    const base = all[i % all.length]!;
    let img = sharp(base.bytes).autoOrient();
    const steps: string[] = [];
    if (random() < 0.6) {
      const width = Math.max(32, Math.floor(base.width * (0.6 + random() * 0.4)));
      const height = Math.max(32, Math.floor(base.height * (0.6 + random() * 0.4)));
      const left = Math.floor(random() * (base.width - width));
      const top = Math.floor(random() * (base.height - height));
      img = img.extract({ left, top, width, height });
      steps.push('crop');
    }
    if (random() < 0.5) {
      const f = 0.5 + random() * 0.8;
      img = img.resize({ width: Math.max(32, Math.round(base.width * f)) });
      steps.push(`x${f.toFixed(2)}`);
    }
    if (random() < 0.3) {
      img = img.flop();
      steps.push('flip');
    }
    const png = random() < 0.15;
    const quality = 60 + Math.floor(random() * 36);
    const bytes = png ? await img.png().toBuffer() : await img.jpeg({ quality }).toBuffer();
    steps.push(png ? 'png' : `q${quality}`);
    photos.push({
      name: `${String(i).padStart(4, '0')}-${base.name}-${steps.join('-')}.${png ? 'png' : 'jpg'}`,
      mime: png ? 'image/png' : 'image/jpeg',
      bytes: new Uint8Array(bytes),
    });
  }
  return photos;
}
