/**
 * The agreement rule against real runtime differences: each sample photo and copies of it
 * made here with sharp (rescaled, re-encoded JPEG, PNG, mirrored) go through the real
 * onnxruntime-node detector; boxes are mapped back to the original's pixels. Honest pairs
 * must agree; results a liar would send (random boxes, nothing, another photo's result,
 * shifted boxes, relabelled boxes) must not.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detection } from '@tabgrid/protocol';
import { parseLabels } from '@tabgrid/detector';
import { createNativeDetector, type NativeDetector } from '@tabgrid/node-runner';
import { labelsPath, modelPath, sampleImages } from '../../../../scripts/assets';
import { agree, disagreements, DEFAULT_AGREEMENT } from '../../src/verification/agreement';

interface Variant {
  name: string;
  make(bytes: Buffer): Promise<Buffer>;
  /** Maps a box found on the variant back to the original's pixels. */
  back(d: Detection, width: number, height: number): Detection;
}

const scale = (f: number): Variant => ({
  name: `rescaled x${f}`,
  make: async (bytes) => {
    const meta = await sharp(bytes).autoOrient().metadata();
    return sharp(bytes)
      .autoOrient()
      .resize(Math.round(meta.width * f), Math.round(meta.height * f))
      .jpeg({ quality: 92 })
      .toBuffer();
  },
  back: (d, w, h) => {
    // sharp rounded the size: map with the exact ratio per axis.
    const sx = w / Math.round(w * f);
    const sy = h / Math.round(h * f);
    return { ...d, box: [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy] };
  },
});

const VARIANTS: Variant[] = [
  scale(0.75),
  scale(1.3),
  {
    name: 'JPEG q=80',
    make: (b) => sharp(b).autoOrient().jpeg({ quality: 80 }).toBuffer(),
    back: (d) => d,
  },
  { name: 'PNG', make: (b) => sharp(b).autoOrient().png().toBuffer(), back: (d) => d },
  {
    name: 'mirrored',
    make: (b) => sharp(b).autoOrient().flop().jpeg({ quality: 95 }).toBuffer(),
    back: (d, w) => ({ ...d, box: [w - d.box[2], d.box[1], w - d.box[0], d.box[3]] }),
  },
];

let native: NativeDetector;
const photos: { name: string; width: number; height: number; original: Detection[] }[] = [];
const honestPairs: { label: string; a: Detection[]; b: Detection[] }[] = [];

beforeAll(async () => {
  const labels = parseLabels(await readFile(labelsPath(), 'utf8'));
  native = await createNativeDetector(modelPath(), labels, { threads: 1 });
  for (const image of sampleImages()) {
    const bytes = await readFile(image.path);
    const { detections, width, height } = await native.detectTimed(bytes);
    photos.push({ name: image.name, width, height, original: detections });
    for (const v of VARIANTS) {
      const found = await native.detect(await v.make(bytes));
      honestPairs.push({
        label: `${image.name} vs ${v.name}`,
        a: detections,
        b: found.map((d) => v.back(d, width, height)),
      });
    }
  }
}, 120_000);

afterAll(async () => {
  await native?.close();
});

describe('agreement rule on real runtime differences', () => {
  it('has real detections to compare', () => {
    const confident = photos
      .flatMap((p) => p.original)
      .filter((d) => d.score >= DEFAULT_AGREEMENT.confidentScore);
    expect(confident.length).toBeGreaterThan(5);
  });

  it('honest results for transformed copies of the same photo agree', () => {
    const failures = honestPairs
      .map((p) => ({ label: p.label, why: disagreements(p.a, p.b) }))
      .filter((p) => p.why.length > 0);
    if (process.env.TABGRID_AGREEMENT_DEBUG)
      console.log(
        JSON.stringify(
          failures.map((f) => [
            f.label,
            f.why.map((w) => [w.side, w.detection.label, w.detection.score, +w.bestIoU.toFixed(3)]),
          ]),
        ),
      );
    expect(failures).toEqual([]);
  });

  it('is symmetric', () => {
    for (const p of honestPairs) expect(agree(p.b, p.a), p.label).toBe(agree(p.a, p.b));
  });

  it('rejects what liars send', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [i, p] of photos.entries()) {
      const confident = p.original.filter((d) => d.score >= DEFAULT_AGREEMENT.confidentScore);
      if (confident.length === 0) continue;
      const other = photos[(i + 1) % photos.length]!.original;
      const plausible: Detection[] = confident.map((d) => {
        const x = random() * p.width * 0.7;
        const y = random() * p.height * 0.7;
        return { ...d, box: [x, y, x + p.width * 0.2, y + p.height * 0.2], score: 0.5 + random() / 2 };
      });
      const shifted = p.original.map((d) => {
        const w = d.box[2] - d.box[0];
        return {
          ...d,
          box: [d.box[0] + w * 0.4, d.box[1], d.box[2] + w * 0.4, d.box[3]] as Detection['box'],
        };
      });
      const relabelled = p.original.map((d) => ({ ...d, label: d.label === 'person' ? 'dog' : 'person' }));
      const rescored = p.original.map((d) => ({ ...d, score: d.score >= 0.7 ? d.score - 0.3 : d.score }));
      expect(agree(p.original, []), `${p.name}: empty`).toBe(false);
      expect(agree(p.original, plausible), `${p.name}: random boxes`).toBe(false);
      expect(agree(p.original, other), `${p.name}: another photo's result`).toBe(false);
      expect(agree(p.original, shifted), `${p.name}: shifted boxes`).toBe(false);
      expect(agree(p.original, relabelled), `${p.name}: relabelled`).toBe(false);
      if (confident.some((d) => d.score >= 0.7)) {
        expect(agree(p.original, rescored), `${p.name}: rescored`).toBe(false);
      }
    }
  });

  it('ignores uncertain detections that appear on one side only', () => {
    const d: Detection = {
      label: 'cup',
      score: DEFAULT_AGREEMENT.confidentScore - 0.01,
      box: [0, 0, 10, 10],
    };
    expect(agree([d], [])).toBe(true);
    expect(agree([{ ...d, score: DEFAULT_AGREEMENT.confidentScore }], [])).toBe(false);
    // A confident detection may be matched by an uncertain partner within tolerance.
    expect(agree([{ ...d, score: DEFAULT_AGREEMENT.confidentScore + 0.05 }], [d])).toBe(true);
  });
});
